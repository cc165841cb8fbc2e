"""``evbill``: every command module is wired into the parser through ``connector.cli.COMMANDS``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import connector.commands
from connector import cli

COMMANDS_DIR = Path(connector.commands.__file__).parent


def test_every_module_that_registers_a_command_is_listed() -> None:
    registering = {path.stem for path in COMMANDS_DIR.glob("*.py") if "\ndef register(" in path.read_text()}
    assert sorted(module.__name__.rpartition(".")[2] for module in cli.COMMANDS) == sorted(registering)


def test_help_lists_every_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    [subcommands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert subcommands.choices and all(f"    {name}" in out for name in subcommands.choices)
