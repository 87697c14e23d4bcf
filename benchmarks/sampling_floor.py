"""What one sampling step of the shipped model costs, split into its weight products and everything
else, and against a compiled step: how far per-token speed-ups can go on this machine.

    python benchmarks/sampling_floor.py               # ~2 minutes, most of it torch.compile
    python benchmarks/sampling_floor.py --no-compile  # ~30 s

At one position (a frame token of the window's fourth frame, as `sampling_speed.py --shipped`), for
batches of 1 and 4 samples, each row is the median of 200 calls, the rows taken in turns (`--turns`)
and the best turn kept:

- step: `VideoTransformer.forward` for one token with the key/value cache, as `ccvs generate` runs it
  (embedding, then the straight-line blocks of `models/decode_step.py`);
- blocks alone: `DecodeStep` on the embedded token;
- products alone: the step's 24 weight products, back to back: reading the weights, the floor of
  any eager step with these products;
- all but the products: `DecodeStep` with each product replaced by a ready result of its shape
  (layer norms, cache writes, attention, GELU, adds and the views between them);
- compiled (batch 1): `DecodeStep` through `torch.compile` (inductor, shapes fixed at this position:
  the best case; sampling would also recompile or go dynamic as the cache grows). Its first call's
  seconds are the compile time, weighed against the time it saves within one `ccvs generate`.

Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from ccvs_core import CCVSPipeline, default_model
from ccvs_core.models import decode_step

console = Console()
STEPS_PER_GENERATE = 496  # one-token steps of `ccvs generate --frames 16` on the shipped model


def median_ms(fn, repeats: int = 200) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(model, batch: int, turns: int, compile_too: bool) -> tuple[dict[str, float], float | None]:
    """{row: best median ms}, and the compile seconds (None without a compiled row)."""
    layout = model.layout
    sequence = torch.zeros(batch, layout.length, dtype=torch.long)
    position = int(layout.frame_tokens_start(3)) + 5
    targets = {
        s.condition: torch.full((batch,), 7) for s in layout.condition_slots if s.slot.level == "target"
    }
    gaps = layout.gap_ids(targets, batch)
    additive = model.additive_table(sequence)
    cache = model.new_cache(batch)
    token = sequence[:, position : position + 1]
    model(sequence[:, :position], 0, cache, gaps, hidden=True, window=sequence)
    embedded = model.embed(token, position, gaps, sequence, additive)[:, 0]

    def step():
        model(token, position, cache, gaps, hidden=True, window=sequence, additive=additive)
        cache.length -= 1

    step()
    blocks = model._one_token_step()
    assert blocks is not None, "the shipped model should take the straight-line step"
    products = [p for _, qkv, proj, _, fc1, fc2 in blocks.layers for p in (qkv, proj, fc1, fc2)]
    wide = embedded.repeat(1, 4)  # the MLP's hidden width: fc2's input

    def input_of(product) -> torch.Tensor:
        return embedded if product[1].shape[-1] == embedded.shape[1] else wide

    ready = {id(p[1]): decode_step._apply(p, input_of(p)) for p in products}
    real_apply = decode_step._apply

    def products_alone():
        for product in products:
            real_apply(product, input_of(product))

    def all_but_products():
        decode_step._apply = lambda product, x: ready[id(product[1])]
        try:
            blocks(embedded, cache)
        finally:
            decode_step._apply = real_apply

    rows: dict[str, list[float]] = {}
    timed = {
        "step (VideoTransformer.forward)": step,
        "blocks alone (DecodeStep)": lambda: blocks(embedded, cache),
        "products alone": products_alone,
        "all but the products": all_but_products,
    }
    for _ in range(turns):
        for name, fn in timed.items():
            rows.setdefault(name, []).append(median_ms(fn))
    best = {name: min(times) for name, times in rows.items()}
    if not compile_too:
        return best, None
    compiled = torch.compile(blocks.__call__, dynamic=False)
    start = time.perf_counter()
    compiled(embedded, cache)
    compile_seconds = time.perf_counter() - start
    difference = (compiled(embedded, cache) - blocks(embedded, cache)).abs().max().item()
    assert difference < 1e-4, f"the compiled step differs from the eager one by {difference}"
    best["blocks compiled (torch.compile)"] = median_ms(lambda: compiled(embedded, cache))
    return best, compile_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-compile", action="store_true", help="leave out the compiled step")
    parser.add_argument("--turns", type=int, default=3, help="turns of the eager rows (best kept)")
    args = parser.parse_args()
    model = CCVSPipeline.from_pretrained(default_model()).transformer.eval()
    results = {}
    with torch.no_grad():
        for batch in (1, 4):
            results[batch] = measure(model, batch, args.turns, compile_too=batch == 1 and not args.no_compile)
    table = Table(title=f"the shipped model, one sampling step, {torch.get_num_threads()} threads")
    table.add_column("what runs")
    for batch in results:
        table.add_column(f"batch {batch}", justify="right")
        table.add_column("of the step", justify="right")
    names = list(results[1][0])
    for name in names:
        cells = []
        for best, _ in results.values():
            if name in best:
                cells += [
                    f"{best[name]:.3f} ms",
                    f"{best[name] / best['step (VideoTransformer.forward)']:.2f}",
                ]
            else:
                cells += ["", ""]
        table.add_row(name, *cells)
    console.print(table)
    best, compile_seconds = results[1]
    if compile_seconds is not None:
        saved = best["blocks alone (DecodeStep)"] - best["blocks compiled (torch.compile)"]
        pays = f"it pays after {compile_seconds / saved * 1e3:,.0f} steps" if saved > 0 else "it never pays"
        console.print(
            f"batch 1: compile time {compile_seconds:.1f} s; the compiled blocks save {saved:.3f} ms a step, "
            f"so {pays} (ccvs generate --frames 16 takes {STEPS_PER_GENERATE})"
        )


if __name__ == "__main__":
    main()

# RESULTS (2026-12-06, `python benchmarks/sampling_floor.py`, 2 cores of an AMD EPYC, torch 2.9.1):
#
#                 the shipped model, one sampling step, 2 threads
#   ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━┓
#   ┃ what runs                  ┃  batch 1 ┃ of the step ┃  batch 4 ┃ of the step ┃
#   ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━┩
#   │ step                       │ 1.007 ms │        1.00 │ 2.045 ms │        1.00 │
#   │ (VideoTransformer.forward) │          │             │          │             │
#   │ blocks alone (DecodeStep)  │ 0.891 ms │        0.89 │ 1.838 ms │        0.90 │
#   │ products alone             │ 0.360 ms │        0.36 │ 0.706 ms │        0.35 │
#   │ all but the products       │ 0.358 ms │        0.36 │ 0.611 ms │        0.30 │
#   │ blocks compiled            │ 0.853 ms │        0.85 │          │             │
#   │ (torch.compile)            │          │             │          │             │
#   └────────────────────────────┴──────────┴─────────────┴──────────┴─────────────┘
#   batch 1: compile time 6.2 s; the compiled blocks save 0.038 ms a step, so it
#   pays after 162,586 steps (ccvs generate --frames 16 takes 496)
#
#   The products and the rest, each alone, add up to 0.72 ms at batch 1: the least this eager step
#   can cost; run as one they take 0.17 ms more (their operations slow each other). Two earlier runs
#   the same day (before the last changes) compiled in 6.6 and 21.4 s to 2.09 and 2.24 ms, slower
#   than eager: compiling never pays within one ccvs generate.
