"""``ccvs examples``: write out the sample inputs that ship with ccvs, and the commands that use them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ccvs_core.atomic import write_bytes_atomic
from ccvs_core.console import out
from ccvs_core.errors import InputError

DESCRIPTION = """\
Write the sample inputs that ship inside ccvs-core into --out: a drum track (drums.wav), a gripper
trajectory (trajectory.json), a context frame (context.png), an end frame (last.png) and a layout
(layout.json), all from one toyworld test video that the default model never trained on, and
print a `ccvs generate` command for each. A file already in DIR with other content is left alone
unless --overwrite is given.
"""

# what to try with each sample, on the default model (no --model)
TRY = (
    "ccvs generate --cond audio:{d}/drums.wav --out drums.mp4",
    "ccvs generate --cond state:{d}/trajectory.json --context {d}/context.png --out state.mp4",
    "ccvs generate --cond endframe:{d}/last.png --context {d}/context.png --out endframe.mp4",
    "ccvs generate --cond class:circle --out circle.mp4",
    "ccvs generate --cond layout:{d}/layout.json --out layout.mp4",
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "examples", help="write the sample inputs that ship with ccvs", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write them to")
    parser.add_argument("--overwrite", action="store_true", help="replace files of the same name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ccvs_core.shipped import SAMPLES, sample_files

    files = sample_files() if SAMPLES.is_dir() else []
    if not files:
        raise InputError("ccvs examples", f"this installation of ccvs-core has no sample inputs ({SAMPLES})")
    if args.out.exists() and not args.out.is_dir():
        raise InputError("--out", f"{args.out} exists and is not a folder")
    clashes = [
        f.name
        for f in files
        if (args.out / f.name).exists() and (args.out / f.name).read_bytes() != f.read_bytes()
    ]
    if clashes and not args.overwrite:
        raise InputError("--out", f"{args.out} already has other {', '.join(clashes)}", "give --overwrite")
    args.out.mkdir(parents=True, exist_ok=True)
    for f in files:
        write_bytes_atomic(args.out / f.name, f.read_bytes())
    out.print(f"wrote {len(files)} sample inputs to {args.out}: {', '.join(f.name for f in files)}")
    out.print("try:")
    for line in TRY:
        out.print("  " + line.format(d=args.out), highlight=False)
    return 0
