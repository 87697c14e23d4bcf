"""Training throughput and peak memory of both stages for 1 and for several processes under torchrun.

    python benchmarks/train_throughput.py --data W/toyworld --autoencoder W/autoencoder/autoencoder
    python benchmarks/train_throughput.py --data D --autoencoder A --processes 1,2,4,8 --device cuda --parallel fsdp
    torchrun --nproc-per-node=G benchmarks/train_throughput.py --worker --stage transformer --data D \
        --autoencoder A --json out.json

Each stage (`ccvs train autoencoder`, then `ccvs train transformer` with no conditions; --preset
sizes) trains --steps steps at its global batch for each number of processes, each run a
`torchrun --standalone` job of its own (gloo on the CPU, nccl on GPUs). On the CPU the cores are
shared out: threads per process = cores / processes, so that 2 processes against 1 measure the cost
of splitting the batch and averaging the gradients, not a speed-up. The median step (after --warmup
steps) gives samples (clips or windows) a second; peak memory is the largest resident set of one
process (CUDA: its peak allocated memory). Writes --out (JSON). Last printed: RESULTS at the end.
"""

from __future__ import annotations

import argparse
import gc
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

WORKER_FLAGS = (
    "data",
    "autoencoder",
    "preset",
    "steps",
    "warmup",
    "device",
    "parallel",
    "precision",
    "compile",
)
STAGES = ("autoencoder", "transformer")


def trainer_of(stage: str, args: argparse.Namespace, out: Path, device: str):
    """The stage's trainer for ``args.steps`` + ``args.warmup`` steps, writing nothing on the way."""
    quiet = {"steps": args.warmup + args.steps, "checkpoint_every": 10**9, "sample_every": 10**9}
    quiet |= {"precision": args.precision, "compile": args.compile == "yes"}
    if stage == "autoencoder":
        from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run

        run = plan_run(out, args.preset, {"training": {**quiet, "batch_size": args.batch_size}})
        return AutoencoderTrainer(run, args.data, out, device=device, progress=False)
    from ccvs_core.training.transformer import TransformerTrainer
    from ccvs_core.training.transformer_run import plan_transformer_run

    training = {
        **quiet,
        "batch_size": args.batch_size,
        "parallel": args.parallel,
        "precision": args.precision,
    }
    run = plan_transformer_run(out, args.autoencoder, args.preset, {"training": training})
    return TransformerTrainer(run, args.data, out, device=device, progress=False)


def worker(args: argparse.Namespace) -> None:
    """One torchrun job: train, time the steps, write the main process's JSON."""
    import torch

    from ccvs_core import distributed

    out = Path(args.json).parent / "run"  # the same folder for every process
    with distributed.process_group(args.device) as device:
        trainer = trainer_of(args.stage, args, out, device)
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
                "step_s": median, "samples_per_s": args.batch_size / median, "peak_bytes": max(peaks),
            }  # fmt: skip
            Path(args.json).write_text(json.dumps(result) + "\n")
        del trainer  # DDP's reducers go while the process group lives
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, help="stage 1's export, for stage 2")
    parser.add_argument("--stages", default="autoencoder,transformer", help="comma-separated (driver)")
    parser.add_argument("--stage", choices=STAGES, help="the stage a worker trains")
    parser.add_argument("--preset", default="toyworld")
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts (driver)")
    parser.add_argument("--batch-size", type=int, help="global batch (default: 8 clips, 16 windows)")
    parser.add_argument(
        "--per-process", action="store_true", help="--batch-size is each process's (weak scaling)"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", default="ddp", choices=("ddp", "fsdp"))
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--compile", default="no", choices=("no", "yes"), help="torch.compile (--compile)")
    parser.add_argument("--out", type=Path, default=Path("train_throughput.json"))
    parser.add_argument("--worker", action="store_true", help="run as one torchrun job")
    parser.add_argument("--json", help="where a worker writes its result")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    stages = args.stages.split(",")
    if "transformer" in stages and args.autoencoder is None:
        parser.error("--autoencoder is needed to time the transformer")
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for stage in stages:
            for count in (int(p) for p in args.processes.split(",")):
                batch = args.batch_size or (8 if stage == "autoencoder" else 16)
                batch *= count if args.per_process else 1
                part = Path(work) / f"{stage}-{count}" / "result.json"
                part.parent.mkdir()
                env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // count))}
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
                flags = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k in WORKER_FLAGS]
                flags += [f"--stage={stage}", f"--batch-size={batch}", "--worker", "--json", str(part)]
                subprocess.run([*command, f"--nproc-per-node={count}", __file__, *flags], env=env, check=True)
                rows.append({"stage": stage, "batch": batch, **json.loads(part.read_text())})
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    compiled = ", compiled" if args.compile == "yes" else ""
    title = f"{args.preset} preset, {args.device}, {args.precision}{compiled}, {args.parallel} (stage 2), {cores} cores"
    table = Table(title=title)
    columns = (
        "stage",
        "global batch",
        "processes",
        "threads each",
        "step (s)",
        "samples/s",
        "vs 1st",
        "peak MiB",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        base = next(r for r in rows if r["stage"] == row["stage"])["samples_per_s"]
        table.add_row(row["stage"], str(row["batch"]), str(row["processes"]), str(row["threads"]),
                      f"{row['step_s']:.3f}", f"{row['samples_per_s']:.2f}", f"{row['samples_per_s'] / base:.2f}",
                      f"{row['peak_bytes'] / 2**20:.0f}")  # fmt: skip
    Console(width=100).print(table)


if __name__ == "__main__":
    main()

RESULTS = """
2026-12-03, 2 cores (AMD EPYC), --steps 30 --warmup 3:
                            toyworld preset, cpu, ddp (stage 2), 2 cores
┏━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┓
┃       stage ┃ global batch ┃ processes ┃ threads each ┃ step (s) ┃ samples/s ┃ vs 1st ┃ peak MiB ┃
┡━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━┩
│ autoencoder │            8 │         1 │            2 │    0.623 │     12.84 │   1.00 │      958 │
│ autoencoder │            8 │         2 │            1 │    0.470 │     17.03 │   1.33 │      821 │
│ transformer │           16 │         1 │            2 │    0.411 │     38.89 │   1.00 │      953 │
│ transformer │           16 │         2 │            1 │    0.416 │     38.42 │   0.99 │      850 │
└─────────────┴──────────────┴───────────┴──────────────┴──────────┴───────────┴────────┴──────────┘
"""
