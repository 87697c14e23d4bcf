"""``ccvs conditions``: the installed conditions and the plugins that failed to load."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from ccvs_core.conditions import list_conditions
from ccvs_core.console import out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "conditions",
        help="list the installed conditions",
        description=(
            "List every condition ccvs can use: the built-in plugins (ccvs-plugin-state, -audio, -layout, "
            "-endframe, -class) and any package that declares an entry point in the 'ccvs.conditions' "
            "group, or registers a class with @register_condition. For each: its package and version, "
            "the level (video or frame) and size of its token slots, and its status. A plugin that fails "
            "to import, declares invalid slots or claims a name already taken is shown with its error "
            "and skipped; it never stops ccvs."
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    entries = list_conditions()
    table = Table(title="ccvs conditions", caption="slots: tokens x vocabulary, at the default config")
    for column in ("name", "package", "version", "level", "slots", "status"):
        table.add_column(column)
    for entry in entries:
        levels = sorted({s.level for s in entry.slots})
        slots = ", ".join(
            f"{s.name}: {s.length} x {s.vocab_size}"
            + (" (timed)" if s.timed else "")
            + (" (predictable)" if s.predictable else "")
            + (" (frame tokens)" if s.frame_tokens else "")
            + (f" (points at {s.points_at})" if s.points_at else "")
            + (" (additive)" if s.additive else "")
            for s in entry.slots
        )
        status = "[green]ok[/]" if entry.ok else f"[red]skipped: {escape(entry.error or '')}[/]"
        table.add_row(entry.name, entry.package, entry.version, "+".join(levels) or "-", slots or "-", status)
    if not entries:
        table.caption = "no condition installed (pip install ccvs-plugin-<name>)"
    out.print(table)
    return 0
