"""``ccvs data``: check, import and synthesize datasets in the ccvs format (docs/dataset-format.md)."""

from __future__ import annotations

import argparse

from ccvs_core.commands import data_check, data_import, data_toyworld
from ccvs_core.commands.plugin_commands import add_plugin_commands
from ccvs_core.plugins import DATA_COMMANDS_GROUP

NAME = "data"


def add_parser(subparsers: argparse._SubParsersAction, invoked: str | None = None) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="check, import and synthesize datasets",
        description="Datasets in the ccvs folder format: one folder per video (docs/dataset-format.md).",
    )
    commands = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    for command in (data_check, data_import, data_toyworld):
        command.add_parser(commands)
    add_plugin_commands(commands, DATA_COMMANDS_GROUP, invoked)
