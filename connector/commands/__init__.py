"""Sub-commands of ``evbill``; ``connector.cli.COMMANDS`` lists the modules that register one."""


class InputError(Exception):
    """Invalid user input: ``evbill`` prints it as one line and exits with code 2."""
