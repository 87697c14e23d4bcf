"""``ccvs train``: the training commands (one module per stage)."""

from __future__ import annotations

import argparse

from ccvs_core.commands import train_autoencoder, train_transformer
from ccvs_core.commands.plugin_commands import TRAIN_GROUP, add_plugin_commands


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the models",
        description="Train the models of CCVS: the flow-linked autoencoder (stage 1), then the transformer "
        "(stage 2); plugins add their own (e.g. the audio plugin's sound tokenizer).",
    )
    commands = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND", required=True)
    train_autoencoder.add_parser(commands)
    train_transformer.add_parser(commands)
    add_plugin_commands(commands, TRAIN_GROUP)
