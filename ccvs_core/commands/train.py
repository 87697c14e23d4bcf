"""``ccvs train``: the training commands (one module per stage)."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging

from ccvs_core.commands import train_autoencoder, train_transformer

# plugins add training commands of their own (the audio tokenizer, the position estimator) here:
# NAME = "module:add_parser", add_parser(subparsers) adding one sub-command named NAME
ENTRY_POINT_GROUP = "ccvs.train_commands"
log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the models",
        description="Train the models of CCVS: the flow-linked autoencoder (stage 1), then the transformer (stage 2).",
    )
    commands = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND", required=True)
    train_autoencoder.add_parser(commands)
    train_transformer.add_parser(commands)
    for point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            point.load()(commands)
        except Exception as err:  # a broken plugin loses its command, never the others
            package = point.dist.name if point.dist else point.module
            log.warning(
                "training command '%s' from %s skipped: %s: %s", point.name, package, type(err).__name__, err
            )
