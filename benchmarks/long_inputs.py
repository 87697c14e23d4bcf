"""Peak memory of `ccvs generate` with long inputs against short ones: only what is used is read (CPU).

    python benchmarks/long_inputs.py --work W/long      # writes a 10-hour WAV (1.2 GB) and a long video

Makes a 10-hour 16 kHz WAV, a 1,000-frame 640 x 480 video and their short counterparts (10 s, 10
frames), then runs `ccvs generate` with the shipped model (8 frames, 1 sample) on each in its own
process and reads the process's peak resident memory. With readers that decode only what a request
uses, the long inputs cost what the short ones do; before, the WAV was decoded whole (2.3 GB of
float32) and the video too (0.9 GB of frames).
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ccvs_core.media import write_video

RATE, HOURS = 16000, 10


def write_long_wav(path: Path, seconds: int) -> None:
    """A drum-like click every second, written a minute at a time (the file is never in memory)."""
    minute = np.zeros(RATE * 60, dtype="<i2")
    minute[::RATE] = 20000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for _ in range(seconds // 60):
            out.writeframes(minute.tobytes())


def write_long_video(path: Path, frames: int) -> None:
    rng = np.random.default_rng(0)
    write_video((rng.integers(0, 255, (frames, 480, 640, 3), dtype=np.uint8) // 32) * 32, path, 10)


def peak_mib(argv: list[str]) -> float:
    """Peak resident memory of one `ccvs` command in a fresh process (its own children counted alone)."""
    code = (
        "import resource, sys; from ccvs_core.cli import main; code = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the inputs (about 1.3 GB)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    inputs = {
        "short.wav": lambda p: write_long_wav(p, 60),
        f"{HOURS}h.wav": lambda p: write_long_wav(p, HOURS * 3600),
        "short.mp4": lambda p: write_long_video(p, 10),
        "long.mp4": lambda p: write_long_video(p, 1000),
    }
    for name, make in inputs.items():
        if not (args.work / name).is_file():
            make(args.work / name)
    base = ["generate", "--frames", "8", "--device", "cpu"]
    runs = {
        "--cond audio:short.wav (60 s)": ["--cond", f"audio:{args.work / 'short.wav'}"],
        f"--cond audio:{HOURS}h.wav": ["--cond", f"audio:{args.work / f'{HOURS}h.wav'}"],
        "--context short.mp4 (10 frames)": ["--context", str(args.work / "short.mp4")],
        "--context long.mp4 (1,000 frames)": ["--context", str(args.work / "long.mp4")],
    }
    table = Table(title="peak resident memory of ccvs generate (8 frames, 1 sample, the shipped model)")
    table.add_column("input")
    table.add_column("file", justify="right")
    table.add_column("peak MiB", justify="right")
    for label, flags in runs.items():
        file = Path(flags[1].split(":", 1)[-1])
        for old in args.work.glob("out*"):
            old.unlink()
        mib = peak_mib([*base, *flags, "--out", str(args.work / "out.gif")])
        table.add_row(label, f"{file.stat().st_size / 2**20:.0f} MiB", f"{mib:.0f}")
    Console(width=100).print(table)


RESULTS = """
2026-12-03 (2 CPU cores, torch 2.9.1), the shipped model; "before" is the code of 9709393 (run from
its checkout), "after" the bounded readers:

  python benchmarks/long_inputs.py --work W/long

input                                 file       peak MiB before   peak MiB after
--cond audio:short.wav (60 s)         2 MiB                  594              701
--cond audio:10h.wav                  1,099 MiB            7,442              797
--context short.mp4 (10 frames)       2 MiB                  602              703
--context long.mp4 (1,000 frames)     226 MiB              2,334              703

The 10-hour track now costs its first 600 s (+96 MiB over the short one); the long video costs what the
short one does. With short inputs too, "after" peaks ~100 MiB above "before": not traced yet.
"""

if __name__ == "__main__":
    main()
