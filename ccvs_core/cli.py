"""The ``ccvs`` command: one sub-command per module in ``ccvs_core.commands``."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from ccvs_core import __version__
from ccvs_core.commands import conditions, data, evaluate, generate, train
from ccvs_core.console import console
from ccvs_core.errors import CCVSError

COMMANDS = (conditions, data, train, generate, evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccvs",
        description="Context-aware controllable video synthesis: data, training, generation, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"ccvs-core {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CCVSError as err:
        if args.debug:
            console.print_exception()
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
