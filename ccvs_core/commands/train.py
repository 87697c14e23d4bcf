"""``ccvs train``: the training commands (one module per stage)."""

from __future__ import annotations

import argparse

from ccvs_core.commands import train_autoencoder, train_transformer


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the models",
        description="Train the models of CCVS: the flow-linked autoencoder (stage 1), then the transformer (stage 2).",
    )
    commands = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND", required=True)
    train_autoencoder.add_parser(commands)
    train_transformer.add_parser(commands)
