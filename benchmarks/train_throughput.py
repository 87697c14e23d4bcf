"""Training throughput and peak memory for 1 and for several processes under torchrun (CPU or GPUs).

    python benchmarks/train_throughput.py --data W/toyworld --autoencoder W/autoencoder/autoencoder
    python benchmarks/train_throughput.py --data D --autoencoder A --processes 1,2,4,8 --device cuda --parallel fsdp
    torchrun --nproc-per-node=G benchmarks/train_throughput.py --worker --data D --autoencoder A --json out.json

Stage 2 (`ccvs train transformer`, the toyworld preset, no conditions) trains STEPS steps at the
global --batch-size for each number of processes, each run a `torchrun --standalone` job of its own
(gloo on the CPU, nccl on GPUs). On the CPU the cores are shared out: threads per process = cores /
processes, so that 2 processes against 1 measure the cost of splitting the batch and averaging the
gradients, not a speed-up. The median step (after --warmup steps) gives windows a second; peak memory
is the largest resident set of one process (CUDA: its peak allocated memory). Stage 1 is not
measured yet: `ccvs train autoencoder` still trains in one process. Writes --out (JSON).
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

WORKER_FLAGS = ("data", "autoencoder", "batch_size", "steps", "warmup", "device", "parallel", "precision")


def worker(args: argparse.Namespace) -> None:
    """One torchrun job: train, time the steps, write the main process's JSON."""
    import torch

    from ccvs_core import distributed
    from ccvs_core.training.transformer import TransformerTrainer
    from ccvs_core.training.transformer_run import plan_transformer_run

    out = Path(args.json).parent / "run"  # the same folder for every process
    with distributed.process_group(args.device) as device:
        training = {
            "steps": args.warmup + args.steps, "batch_size": args.batch_size, "parallel": args.parallel,
            "checkpoint_every": 10**9, "sample_every": 10**9, "precision": args.precision,
        }  # fmt: skip
        run = plan_transformer_run(out, args.autoencoder, "toyworld", {"training": training})
        trainer = TransformerTrainer(run, args.data, out, device=device, progress=False)
        times, step = [], trainer.train_step

        def timed(*a, **k):
            start = time.perf_counter()
            stats = step(*a, **k)
            times.append(time.perf_counter() - start)
            return stats

        trainer.train_step = timed
        trainer.fit()
        cuda = device.startswith("cuda")
        peak = (
            torch.cuda.max_memory_allocated()
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        peaks = distributed.gather([peak])
        if distributed.is_main():
            median = sorted(times[args.warmup :])[len(times[args.warmup :]) // 2]
            result = {
                "processes": distributed.world_size(), "threads": torch.get_num_threads(),
                "step_s": median, "windows_per_s": args.batch_size / median, "peak_bytes": max(peaks),
            }  # fmt: skip
            Path(args.json).write_text(json.dumps(result) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts (driver)")
    parser.add_argument("--batch-size", type=int, default=16, help="global batch")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", default="ddp", choices=("ddp", "fsdp"))
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--out", type=Path, default=Path("train_throughput.json"))
    parser.add_argument("--worker", action="store_true", help="run as one torchrun job")
    parser.add_argument("--json", help="where a worker writes its result")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for count in (int(p) for p in args.processes.split(",")):
            part = Path(work) / str(count) / "result.json"
            part.parent.mkdir()
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // count))}
            command = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc-per-node={count}",
            ]
            flags = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k in WORKER_FLAGS]
            subprocess.run([*command, __file__, *flags, "--worker", "--json", str(part)], env=env, check=True)
            rows.append(json.loads(part.read_text()))
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    base = rows[0]["windows_per_s"]
    table = Table(
        title=f"stage 2, global batch {args.batch_size}, {args.device}, {args.parallel}, {cores} cores"
    )
    for column in ("processes", "threads each", "step (s)", "windows/s", "vs first", "peak MiB a process"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["processes"]), str(row["threads"]), f"{row['step_s']:.3f}",
                      f"{row['windows_per_s']:.1f}", f"{row['windows_per_s'] / base:.2f}", f"{row['peak_bytes'] / 2**20:.0f}")  # fmt: skip
    Console(width=100).print(table)


if __name__ == "__main__":
    main()

RESULTS = """
not run yet: see benchmarks/RESULTS.md
"""
