"""``ccvs data import``: turn a folder of your own video files into a ccvs dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ccvs_core.console import out
from ccvs_core.data.importer import FRAME_FORMATS, ImportReport, import_videos

DESCRIPTION = """\
Turn a folder of your own video files into a dataset in the ccvs format (docs/dataset-format.md),
ready for `ccvs data check` and training.

Every video file under SRC (.mp4 .webm .avi .mov .mkv .m4v, any case, searched recursively; hidden
files skipped) becomes one folder DIR/<video id>/ holding:

  video.mp4      the frames, re-encoded as H.264 (or frames/000000.png ... with --format png)
  audio.wav      the sound track, when the file has one (its own sample rate and channels,
                 sample 0 at frame 0, as long as the video)
  meta.json      {"fps", "split", "class", "num_frames", "source"}

Classes come from the layout of SRC, as in UCF-101 or Kinetics: a file in SRC/<class>/... gets
that first-level folder name as its class; a file directly in SRC gets no class (null).

  SRC/                          DIR/
    walk/clip 01.mp4      ->      walk__clip_01/   class "walk", source "walk/clip 01.mp4"
    walk/day2/b.webm      ->      walk__day2__b/   class "walk"
    run/a.mov             ->      run__a/          class "run"
    intro.mkv             ->      intro/           class null

Video ids are the relative paths without extension: separators become "__", characters other
than letters, digits, ".", "_" and "-" become "_", and a repeated id gets "_2", "_3", ...
Phone videos stored rotated are turned upright.

A file that cannot be read (corrupt, no video stream) is skipped with a warning naming it and why;
the import goes on and the closing summary lists it. The dataset is built beside DIR and appears
under its name only when complete, so an interrupted import leaves nothing behind.
"""

EPILOG = """\
splits:
  --val-fraction and --test-fraction set aside round(n * fraction) of the n files found each;
  the rest is "train". The ids are sorted and shuffled with numpy.random.default_rng(--seed), so the same
  files and seed always give the same split.

examples:
  ccvs data import --videos ~/clips --out data/clips
  ccvs data import --videos UCF-101 --out data/ucf --size 128 --fps 10 --val-fraction 0.1
  ccvs data import --videos raw --out data/raw --format png --overwrite
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="turn a folder of video files into a ccvs dataset",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--videos", required=True, type=Path, metavar="SRC", help="folder of video files to import"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="dataset folder to write")
    parser.add_argument(
        "--size",
        type=int,
        metavar="S",
        help="resize so that the short side is S pixels (even; aspect ratio kept, both sides even). "
        "Default: keep the source size",
    )
    parser.add_argument(
        "--fps",
        type=float,
        metavar="F",
        help="resample to F frames per second, taking for each new frame time the source frame shown "
        "then (30 -> 10 keeps every third frame). Default: keep the source rate",
    )
    parser.add_argument(
        "--format",
        choices=FRAME_FORMATS,
        default="mp4",
        help="store frames as video.mp4 (H.264, small) or frames/*.png (lossless, large). Default: mp4",
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.0, metavar="X", help="fraction of videos for 'val'"
    )
    parser.add_argument(
        "--test-fraction", type=float, default=0.0, metavar="X", help="fraction of videos for 'test'"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split shuffle. Default: 0")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR if it exists and is not empty (once the new dataset is complete)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no summary (warnings still show)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = import_videos(
        args.videos,
        args.out,
        size=args.size,
        fps=args.fps,
        frame_format=args.format,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if not args.quiet:
        out.print(summary_table(report))
    return 0


def summary_table(report: ImportReport, max_classes: int = 12) -> Table:
    """A rich table of what an import did (the end of ``ccvs data import``)."""
    table = Table(title=f"imported into {escape(str(report.out))}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("videos", str(len(report.imported)))
    table.add_row("frames", f"{report.total_frames:,}")
    with_audio = sum(video.has_audio for video in report.imported)
    table.add_row("with audio", str(with_audio))
    table.add_row("splits", ", ".join(f"{name} {count}" for name, count in report.splits.items()))
    classes = {name: count for name, count in report.classes.items() if name is not None}
    names = [f"{escape(name)} {count}" for name, count in classes.items()]
    shown = ", ".join(names[:max_classes])
    if len(names) > max_classes:
        shown += f", ... ({len(names) - max_classes} more)"
    if None in report.classes:
        shown += f"{', ' if shown else ''}(no class) {report.classes[None]}"
    table.add_row("classes", f"{len(classes)}: {shown}")
    table.add_row("skipped", str(len(report.skipped)))
    for skipped in report.skipped:
        table.add_row("", f"[yellow]{escape(skipped.source)}[/]: {escape(skipped.reason)}")
    return table
