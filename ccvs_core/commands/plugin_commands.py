"""Sub-commands that plugins add to ``ccvs train`` and ``ccvs data`` through entry-point groups.

A plugin declares ``NAME = "module:add_parser"`` in ``ccvs.train_commands`` or ``ccvs.data_commands``;
``add_parser(subparsers)`` adds one sub-command named NAME (the audio plugin's ``ccvs train
audio-tokenizer``, the state plugin's ``ccvs train position-estimator``). A plugin whose command fails
to load loses that command, with a warning naming it, never the others.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging

TRAIN_GROUP = "ccvs.train_commands"
DATA_GROUP = "ccvs.data_commands"
log = logging.getLogger(__name__)


def add_plugin_commands(subparsers: argparse._SubParsersAction, group: str) -> None:
    for point in sorted(importlib.metadata.entry_points(group=group), key=lambda p: p.name):
        try:
            point.load()(subparsers)
        except Exception as err:  # a broken plugin loses its command, never the others
            package = point.dist.name if point.dist else point.module
            log.warning("command '%s' from %s skipped: %s: %s", point.name, package, type(err).__name__, err)
