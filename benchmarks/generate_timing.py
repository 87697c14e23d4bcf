"""Where `ccvs generate`'s time goes with the shipped model: transformer against decoder (CPU).

    python benchmarks/generate_timing.py                 # the shipped model, 16 frames x 4 samples
    python benchmarks/generate_timing.py --model runs/default/transformer/pipeline

It generates FRAMES frames x SAMPLES samples from the shipped sample context frame (no condition, the
default sampling), REPEATS times after one warm-up, and times the two parts of `CCVSPipeline.generate`:
sampling the frame tokens (the transformer with its key/value cache) and decoding them (the
autoencoder with its flow module). It then times one cached sampling step at batch SAMPLES at the
window's end and compares it with its bound from memory bandwidth: the bytes of the transformer's
weights and of the cache a step reads, over the bandwidth of a large tensor copy.
Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

import ccvs_core.pipeline as pipeline_module
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.shipped import SAMPLES, default_model

FRAMES, SAMPLES_PER_VIDEO, REPEATS = 16, 4, 3


class Timed:
    """Wraps a function and adds up the seconds spent in it."""

    def __init__(self, function):
        self.function, self.seconds = function, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def bandwidth() -> float:
    """Bytes a second of a 256 MB tensor copy (read + write), the best of five."""
    a = torch.empty(64 * 2**20, dtype=torch.float32)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - start)
    return 2 * a.numel() * 4 / best


def cached_step(model, batch: int) -> tuple[float, float]:
    """(seconds of one cached step at the window's last position, bytes it must read)."""
    length = model.layout.length
    sequence = torch.zeros(batch, length, dtype=torch.long)
    gaps = model.layout.gap_ids({c: torch.zeros(batch) for c in model.layout.target_conditions()}, batch)
    cache = model.new_cache(batch)
    with torch.no_grad():
        model(sequence[:, : length - 1], 0, cache, gaps=gaps, window=sequence)
        times = []
        for _ in range(20):
            cache.length = length - 1
            start = time.perf_counter()
            model(sequence[:, length - 1 :], length - 1, cache, gaps=gaps, window=sequence)
            times.append(time.perf_counter() - start)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    kv = 2 * cache.keys[:, :, :, :length].numel() * cache.keys.element_size()
    return float(np.median(times)), weights + kv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="pipeline folder (default: the shipped model)")
    args = parser.parse_args()
    pipeline = CCVSPipeline.from_pretrained(args.model or default_model())
    context = np.array(Image.open(SAMPLES / "context.png").convert("RGB"))[None]
    sample = Timed(pipeline_module.generate_frame_tokens)
    decode = Timed(pipeline.autoencoder.decode_video)
    pipeline_module.generate_frame_tokens = sample
    pipeline.autoencoder.decode_video = decode
    with torch.no_grad():
        pipeline.generate(context, {}, FRAMES, SAMPLES_PER_VIDEO, 0)  # warm-up
        sample.seconds = decode.seconds = 0.0
        start = time.perf_counter()
        for seed in range(REPEATS):
            pipeline.generate(context, {}, FRAMES, SAMPLES_PER_VIDEO, seed)
        total = (time.perf_counter() - start) / REPEATS
    tokens = (FRAMES - 1) * pipeline.transformer.layout.tokens_per_frame
    step, read = cached_step(pipeline.transformer, SAMPLES_PER_VIDEO)
    bound = read / bandwidth()
    table = Table(
        title=f"ccvs generate, {FRAMES} frames x {SAMPLES_PER_VIDEO} samples, {torch.get_num_threads()} threads"
    )
    for column in ("part", "seconds", "share"):
        table.add_column(column, justify="left" if column == "part" else "right")
    for name, seconds in (("transformer (sampling)", sample.seconds), ("decoder", decode.seconds)):
        table.add_row(name, f"{seconds / REPEATS:.2f}", f"{seconds / REPEATS / total:.0%}")
    table.add_row("whole generate", f"{total:.2f}", "100%")
    Console(width=100).print(table)
    Console(width=100).print(
        f"{tokens} frame tokens sampled; a cached step at batch {SAMPLES_PER_VIDEO}: {step * 1e3:.2f} ms, "
        f"its bandwidth bound {bound * 1e3:.3f} ms ({read / 2**20:.1f} MiB read): {bound / step:.0%} of the bound"
    )


RESULTS = """
2026-12-06 (2 cores of an AMD EPYC, torch 2.9.1), the shipped model (2026-12-02), one context frame:

  python benchmarks/generate_timing.py

part                     seconds  share
transformer (sampling)      2.17    87%
decoder                     0.32    13%
whole generate              2.49   100%

240 frame tokens sampled; a cached step at batch 4: 2.43 ms, its bandwidth bound 0.557 ms (26.8 MiB
read): 23% of the bound. A run just before: 1.85 + 0.25 = 2.10 s. On 2026-12-03, on another
machine and before issue 22's sampling step, 5.10 + 0.50 = 5.61 s, the step 7.33 ms (9%).
"""

if __name__ == "__main__":
    main()
