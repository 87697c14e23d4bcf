"""``ccvs conditions``: the installed conditions and the plugins that failed to load."""

from __future__ import annotations

import argparse

import attrs
from rich.markup import escape
from rich.table import Table

from ccvs_core.console import out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "conditions",
        help="list the installed conditions",
        description=(
            "List every condition ccvs can use: the built-in plugins (ccvs-plugin-state, -audio, -layout, "
            "-endframe, -class) and any package that declares an entry point in the 'ccvs.conditions' "
            "group, or registers a class with @register_condition in a module given with ccvs --plugin "
            "MODULE (or CCVS_PLUGINS). For each: its package and version, its token slots (tokens x "
            "vocabulary, level, how their embeddings start, predicted, additive) at its default config, "
            "the options --cond NAME:VALUE,KEY=VALUE takes at generation, and its status. A plugin that "
            "fails to import, breaks the spec or claims a name already taken is shown with its error "
            "and skipped; it never stops ccvs."
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ccvs_core.conditions import list_conditions

    entries = list_conditions()
    table = Table(title="ccvs conditions", caption="slots: tokens x vocabulary, at the default config")
    for column in ("name", "package", "version", "slots", "options", "status"):
        table.add_column(column)
    for entry in entries:
        slots = ", ".join(
            f"{s.name}: {s.length} x {s.vocab_size} {s.level}"
            + (f" (from {s.init.replace('_', ' ')})" if s.init != "random" else "")
            + (" (predicted)" if s.predicted else "")
            + (" (additive)" if s.additive else "")
            for s in entry.slots
        )
        options = ", ".join(f.name for f in attrs.fields(entry.cls.options_class)) if entry.ok else ""
        status = "[green]ok[/]" if entry.ok else f"[red]skipped: {escape(entry.error or '')}[/]"
        table.add_row(entry.name, entry.package, entry.version, slots or "-", options or "-", status)
    if not entries:
        table.caption = "no condition installed (pip install ccvs-plugin-<name>)"
    out.print(table)
    return 0
