"""Hostile inputs for every reader, thousands of them: the long run of the fuzz suite (CPU).

    python benchmarks/fuzz.py --cases 20000              # in all, spread evenly over the targets
    python benchmarks/fuzz.py --cases 500 --target "pipeline loader"

Each case is a valid input (a COCO layout, a trajectory, a dataset folder, a PNG / GIF / MP4, a WAV, the
shipped pipeline's config.json and weights header, ...) with a few hostile edits (extreme numbers,
deep nesting, wrong types, truncation, flipped bytes, header fields set to extremes), read by the
reader users reach through the CLI (tests/fuzz_targets.py). A case passes when the reader returns or
raises the toolkit's own error; a traceback, a crash, a hang (20 s), an allocation past 4 GiB or a
temporary file left behind is a failure. Native readers run in a forked process. Case k of a target
is seeded by k: a failure is replayed with --first k --cases 1 --target NAME. Writes --out (JSON).
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ccvs_core.atomic import write_text_atomic
from ccvs_core.console import progress_bar
from tests.fuzz_targets import TARGETS, run_case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20000, help="cases in all (spread over the targets)")
    parser.add_argument("--target", choices=[t.name for t in TARGETS], help="only this target")
    parser.add_argument("--first", type=int, default=0, help="seed of each target's first case")
    parser.add_argument("--out", type=Path, default=Path("fuzz.json"))
    args = parser.parse_args()
    targets = [t for t in TARGETS if args.target in (None, t.name)]
    per_target = max(1, args.cases // len(targets))
    results = {}
    with tempfile.TemporaryDirectory() as work, progress_bar() as bar:
        for target in targets:
            task = bar.add_task(target.name[:24], total=per_target, status="")
            failures, start = [], time.perf_counter()
            for seed in range(args.first, args.first + per_target):
                failure = run_case(target, seed, Path(work) / "case")
                if failure is not None:
                    failures.append({"case": seed, "what": failure})
                bar.update(task, advance=1, status=f"{len(failures)} failed")
            results[target.name] = {
                "cases": per_target, "failures": failures, "seconds": round(time.perf_counter() - start, 1),
            }  # fmt: skip
    write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")
    table = Table(title=f"fuzz: {per_target * len(targets)} cases")
    for column in ("target", "cases", "failures", "seconds"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for name, result in results.items():
        table.add_row(name, str(result["cases"]), str(len(result["failures"])), f"{result['seconds']:.0f}")
    Console(width=100).print(table)
    for name, result in results.items():
        for failure in result["failures"][:3]:
            print(f"\n{name}, case {failure['case']}:\n{failure['what']}")


RESULTS = """
not run yet in full: see benchmarks/RESULTS.md
"""

if __name__ == "__main__":
    main()
