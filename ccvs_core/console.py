"""One place for terminal output: a rich console on stderr and the progress bar every long job uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")

# Progress, warnings and errors go to stderr; a command's results (tables, reports) to stdout, so
# that piping a command's output keeps only its results.
console = Console(stderr=True)
out = Console()


class _StatusBelow(Progress):
    """A Progress whose tasks' ``status`` (losses, rates) sits on a line of its own under the bar, so
    that the step count, the elapsed time and the ETA stay whole at 80 columns whatever it says."""

    def get_renderables(self) -> Iterator[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            status = task.fields.get("status")
            if status:
                yield Text(f"  {status}", overflow="ellipsis", no_wrap=True)


def progress_bar(*, transient: bool = False, disable: bool = False) -> Progress:
    """A rich Progress with the columns every ccvs command shows: what, bar, done/total, elapsed,
    remaining; each task's ``status`` field on the line below."""
    return _StatusBelow(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=disable,
        expand=False,
    )


def track(
    items: Iterable[T], description: str, total: int | None = None, disable: bool = False
) -> Iterator[T]:
    """Iterate with a progress bar (``total`` defaults to ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(disable=disable) as progress:
        task = progress.add_task(description, total=total, status="")
        for item in items:
            yield item
            progress.advance(task)
