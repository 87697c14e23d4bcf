"""``ccvs report``: one self-contained HTML page of a training run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ccvs_core.console import out

NAME = "report"
DESCRIPTION = """\
Write one self-contained HTML page of a training run (of ccvs train autoencoder or ccvs train
transformer): a chart of every quantity its log.jsonl records against the step (losses, codebook
usage, learning rate, held-out loss, ...), its latest sample pictures of each kind (sample grids
with their legends, flow and mask pictures), and its settings (run.json). The pictures are inside
the file, so the page can be mailed or archived on its own. Refresh it at any time during the run.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="write an HTML page of a training run: curves, samples, settings",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--run", required=True, type=Path, metavar="DIR", help="the run folder (--out of ccvs train)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="HTML file (default: RUN/report.html)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ccvs_core.atomic import write_text_atomic
    from ccvs_core.report import render

    page = render(args.run)
    path = args.out or args.run / "report.html"
    write_text_atomic(path, page)
    out.print(f"wrote {path} ({len(page.encode()) / 2**20:.1f} MiB)", soft_wrap=True)
    return 0
