"""Sub-commands of ``evbill``; ``connector.cli.COMMANDS`` lists the modules that register one."""

from connector.config import DatabaseSettings


def database_url(given: str | None) -> str:
    """``--url`` when given, else ``$DATABASE_URL`` as the command starts, else the SQLite default."""
    return given or DatabaseSettings.from_environ().url


class InputError(Exception):
    """Invalid user input: ``evbill`` prints it as one line and exits with code 2."""
