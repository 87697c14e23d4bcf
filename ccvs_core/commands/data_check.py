"""``ccvs data check DIR``: validate a dataset folder and print a summary table."""

from __future__ import annotations

import argparse
import statistics
from collections import Counter

from rich.markup import escape
from rich.table import Table

from ccvs_core.console import out
from ccvs_core.data.check import DatasetReport, check_dataset
from ccvs_core.data.format import SPLITS

MAX_PROBLEMS_SHOWN = 30


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a dataset folder and print a summary",
        description=(
            "Open every file of every video folder of DIR (meta.json, frames/ or video.mp4, audio.wav, "
            "state.json, layout.json, truth.json; see docs/dataset-format.md), report every problem with "
            "the file it is in, and print a table per split: videos, frames, frame sizes, fps, classes and "
            "which condition data the videos have. Exits with 0 when the dataset is valid, 1 when a "
            "problem was found."
        ),
    )
    parser.add_argument("dir", metavar="DIR", help="the dataset folder")
    parser.set_defaults(func=run)


def summary_table(report: DatasetReport) -> Table:
    table = Table(title=f"dataset {report.root}")
    for column in ("split", "videos", "frames", "frames per video (min / median / max)", "size (WxH)", "fps"):
        table.add_column(column, justify="left" if column in ("split", "size (WxH)", "fps") else "right")
    table.add_column("classes")
    for split in SPLITS:
        videos = [v for v in report.videos if v.meta.split == split]
        if not videos:
            continue
        counts = [v.num_frames for v in videos]
        sizes = Counter(f"{v.size[1]}x{v.size[0]}" for v in videos)
        fps = Counter(f"{v.meta.fps:g}" for v in videos)
        classes = Counter(v.meta.label for v in videos if v.meta.label)
        table.add_row(
            split,
            str(len(videos)),
            str(sum(counts)),
            f"{min(counts)} / {statistics.median(counts):g} / {max(counts)}",
            _top(sizes),
            _top(fps),
            f"{len(classes)}: {_top(classes, 4)}" if classes else "-",
        )
    return table


def _top(counter: Counter, n: int = 3) -> str:
    items = [f"{k} ({c})" if len(counter) > 1 else str(k) for k, c in counter.most_common(n)]
    return ", ".join(items) + (f", +{len(counter) - n}" if len(counter) > n else "")


def run(args: argparse.Namespace) -> int:
    report = check_dataset(args.dir)
    out.print(summary_table(report))
    total = len(report.videos)
    have = ", ".join(
        f"{name} {report.modalities[name]}/{total}" for name in ("audio", "state", "layout", "truth")
    )
    out.print(f"condition data: {have}")
    if report.ok:
        out.print(f"[green]ok[/]: {total} videos, no problems")
        return 0
    out.print(f"[bold red]{len(report.problems)} problems[/]:")
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        out.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        out.print(f"  ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more")
    return 1
