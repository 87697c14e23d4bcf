"""How fast ``ccvs data toyworld`` writes a dataset: the CLI as a subprocess, into a temporary folder.

    python benchmarks/toyworld_generation.py                 # 1000 videos x 32 frames x 64 px
    python benchmarks/toyworld_generation.py --all           # and a few other sizes
    python benchmarks/toyworld_generation.py --tmp /data     # write where the data will live

Seconds are wall-clock time of the whole command (Python start-up included); MB are the files' bytes.
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
EXTRA = ((1000, 16, 32), (100, 32, 128))  # (videos, frames, size) added by --all


def generate(out: Path, videos: int, frames: int, size: int, workers: int | None) -> float:
    """Run the CLI once; return its wall-clock seconds."""
    command = [sys.executable, "-m", "ccvs_core.cli", "data", "toyworld", "--out", str(out)]
    command += ["--videos", str(videos), "--frames", str(frames), "--size", str(size), "--seed", "0"]
    if workers is not None:
        command += ["--workers", str(workers)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return seconds


def megabytes(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, help="default: the CLI's (one per CPU core)")
    parser.add_argument("--all", action="store_true", help=f"also run {EXTRA} (videos, frames, size)")
    parser.add_argument("--tmp", type=Path, help="folder for the temporary datasets (default: system temp)")
    args = parser.parse_args()

    table = Table(title="ccvs data toyworld")
    for column in ("videos", "frames", "size", "workers", "seconds", "frames/s", "MB"):
        table.add_column(column, justify="right")
    runs = [(args.videos, args.frames, args.size), *(EXTRA if args.all else ())]
    workers = args.workers or os.cpu_count() or 1
    for videos, frames, size in runs:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            out = Path(tmp) / "toyworld"
            seconds = generate(out, videos, frames, size, args.workers)
            size_mb = megabytes(out)
        table.add_row(
            str(videos),
            str(frames),
            str(size),
            str(workers),
            f"{seconds:.1f}",
            f"{videos * frames / seconds:.0f}",
            f"{size_mb:.1f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()

RESULTS = """
2026-11-25, `python benchmarks/toyworld_generation.py --all --tmp /work/scratch` (2 CPU cores shared
with other jobs, load ~1.5; Python 3.11, numpy 2.4, Pillow 13; ext4 disk):

    videos  frames  size  workers  seconds  frames/s     MB
      1000      32    64        2     26.9      1188  234.8
      1000      16    32        2     16.0       998   86.9
       100      32   128        2      7.2       446   35.3

With the 2 cores to itself the first row takes 15-21 s.
"""
