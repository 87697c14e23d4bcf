"""``ccvs train``: the training commands (one module per stage), and those plugins add."""

from __future__ import annotations

import argparse
import functools

from ccvs_core import distributed
from ccvs_core.commands import train_autoencoder, train_transformer
from ccvs_core.commands.plugin_commands import add_plugin_commands
from ccvs_core.commands.run_arguments import check_run_folders
from ccvs_core.console import console
from ccvs_core.plugins import TRAIN_COMMANDS_GROUP

NAME = "train"
DISTRIBUTED = {"autoencoder", "transformer"}  # the commands that train as one job under torchrun


def add_parser(subparsers: argparse._SubParsersAction, invoked: str | None = None) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="train the models",
        description="Train the models of CCVS: the flow-linked autoencoder (stage 1), then the transformer "
        "(stage 2); plugins add their own (e.g. the audio plugin's sound tokenizer).",
    )
    commands = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND", required=True)
    train_autoencoder.add_parser(commands)
    train_transformer.add_parser(commands)
    add_plugin_commands(commands, TRAIN_COMMANDS_GROUP, invoked)
    for name, command in commands.choices.items():  # one guard for every training command, plugins' too
        run = command.get_default("func")
        if run is not None:
            command.set_defaults(func=functools.partial(_checked_run, run, name in DISTRIBUTED))


def _checked_run(run, shared: bool, args: argparse.Namespace) -> int:
    check_run_folders(args)
    if shared or distributed.world_size() == 1:
        return run(args)
    # a small helper model (minutes of training): the main process trains it alone, the others leave
    if not distributed.is_main():
        console.print(f"process {distributed.rank()}: this command trains in the main process alone")
        return 0
    with distributed.alone():
        return run(args)
