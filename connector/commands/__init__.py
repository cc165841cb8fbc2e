"""Sub-commands of ``evbill``; each module registers itself (see ``connector.cli``)."""


class InputError(Exception):
    """Invalid user input: ``evbill`` prints it as one line and exits with code 2."""
