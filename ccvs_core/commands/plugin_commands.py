"""Sub-commands that plugins add to ``ccvs train`` and ``ccvs data`` (``ccvs_core.plugin_command``).

Every entry point of the group is listed under its name, from the installed distributions' metadata
alone; only the command being run is imported, and its flags are built from its ``options`` class.
A plugin whose command fails to load is an error when that command is run, and costs no other command.
"""

from __future__ import annotations

import argparse
import typing

import attrs

from ccvs_core.commands.run_arguments import add_run_arguments, pick_device
from ccvs_core.config_base import flag as config_flag
from ccvs_core.console import out
from ccvs_core.errors import PluginError
from ccvs_core.plugin_command import PluginCommand, RunArguments
from ccvs_core.plugins import PluginPoint, plugin_points


def add_plugin_commands(subparsers: argparse._SubParsersAction, group: str, invoked: str | None) -> None:
    """One sub-command per entry point of ``group``; the one named ``invoked`` is loaded and gets its flags."""
    for point in plugin_points(group):
        if point.name != invoked:
            subparsers.add_parser(point.name, help=f"(from {point.distribution} {point.version})")
            continue
        command = point.load()
        if not isinstance(command, PluginCommand):
            raise PluginError(
                f"plugin '{point.name}' ({point.group}) from {point.distribution}",
                f"must name a ccvs_core.PluginCommand, got {type(command).__name__}",
            )
        add_command(subparsers, point, command)


def add_command(subparsers: argparse._SubParsersAction, point: PluginPoint, command: PluginCommand) -> None:
    parser = subparsers.add_parser(
        point.name, help=command.help, description=command.description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    if command.run_arguments:
        add_run_arguments(parser)
    hints = typing.get_type_hints(command.options)
    for field in attrs.fields(command.options):
        kind = _flag_type(hints[field.name])
        flag = config_flag(field.name)
        text = field.metadata.get("help")
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=text)
        else:
            required = field.default is attrs.NOTHING
            parser.add_argument(flag, type=kind, required=required, help=text, metavar=field.name.upper())
    parser.set_defaults(func=lambda args: _run(command, args))


def _flag_type(tp) -> type:
    """The argparse type of an options field: int, float, str or bool (optionally ``| None``)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    if len(args) != 1 or args[0] not in (int, float, str, bool):
        raise PluginError("plugin command", f"option type {tp!r} is not int, float, str or bool")
    return args[0]


def _run(command: PluginCommand, args: argparse.Namespace) -> int:
    given = {f.name: getattr(args, f.name) for f in attrs.fields(command.options)}
    options = command.options(**{k: v for k, v in given.items() if v is not None})
    arguments = (
        RunArguments(args.data, args.out, args.preset, pick_device(args.device))
        if command.run_arguments
        else None
    )
    result = command.run(options, arguments)
    if result is not None:
        out.print(result)
    return 0
