"""The ``ccvs`` command: one sub-command per module in ``ccvs_core.commands``.

Building the parser imports no plugin and no model: plugin sub-commands of ``ccvs train`` and ``ccvs
data`` are listed from their entry-point names, and only the one being run is imported; conditions
are loaded by the commands that use them. ``--plugin MODULE`` (repeatable, or ``CCVS_PLUGINS``)
imports a user's own module first, so its ``@register_condition`` classes can be used.
"""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from ccvs_core import __version__
from ccvs_core.commands import conditions, data, doctor, evaluate, examples, generate, report, train
from ccvs_core.console import console
from ccvs_core.errors import CCVSError

COMMANDS = (conditions, data, train, generate, evaluate, examples, report, doctor)
_VALUED = {"--plugin"}  # options of ``ccvs`` itself that take a value


def invoked(argv: list[str]) -> tuple[str | None, str | None]:
    """(command, sub-command) that ``argv`` runs, e.g. ("train", "audio-tokenizer"), read before parsing."""
    words, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUED:
            skip = True
        elif not token.startswith("-"):
            words.append(token)
            if len(words) == 2:
                break
    command, sub = [*words, None, None][:2]
    return command, sub


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccvs",
        description="Context-aware controllable video synthesis: data, training, generation, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"ccvs-core {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="import your own module (a name importable from here, or a .py file) so that its "
        "@register_condition classes can be used (repeatable; also CCVS_PLUGINS=mod1,mod2)",
    )  # fmt: skip
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command, sub = invoked(sys.argv[1:] if argv is None else argv)
    for module in COMMANDS:
        if module in (train, data):
            module.add_parser(subparsers, sub if command == module.NAME else None)
        else:
            module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser(argv).parse_args(argv)
        if args.plugin:
            from ccvs_core.plugins import import_user_module

            for module in args.plugin:
                import_user_module(module)
        return int(args.func(args) or 0)
    except CCVSError as err:
        if debug:
            console.print_exception()
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
