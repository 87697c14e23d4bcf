"""Is one joint model steered by each of its conditions? The default model's "What it must show" (CPU).

    python benchmarks/control_joint.py --data runs/default/toyworld                  # the shipped model
    python benchmarks/control_joint.py --model runs/default/transformer/pipeline --data runs/default/toyworld

On the first VIDEOS videos of a split it generates FRAMES frames from the first real one (SAMPLES
samples each, the default top-k sampling), once with no condition given ("none") and once with each
condition alone, its input taken from the video itself (Condition.from_sample, as `ccvs generate`
takes a user's). Each is scored with control_toyworld.py's toyworld measures: gripper distance
(state), striker height error (audio), layout mIoU, the last frame's SSIM to the real end frame,
gripper speed error (class). "real tokens" decodes the video's own tokens: the measures' ceiling.

Control fraction of a condition, on its own measure m: (m_none - m_with) / (m_none - m_real tokens),
1 when it steers as well as the autoencoder can show; 2 standard errors from 2,000 bootstrap draws
over the videos (the three terms paired). Where the real tokens do not beat "none" by 2 standard
errors the fraction is NaN: the autoencoder cannot show that condition's effect (the audio's striker
at 32 x 32, benchmarks/striker_visibility.py). --guidance W1,W2,...: classifier-free guidance weights;
each condition's best weight is chosen on the val split and reported on the test split (--split).

Also: unconditional prediction from 4 context frames at t = 8, greedy SSIM against copying the last
context frame, paired over the videos; the mean over samples at the default sampling beside it.
Writes --out (JSON). Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from control_toyworld import OWN_MEASURE, measure, motion_classifier

from ccvs_core.data.clips import ClipDataset
from ccvs_core.generation import SamplingConfig
from ccvs_core.metrics import ssim
from ccvs_core.models.autoencoder import frames_to_tensor, tensor_to_frames
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.shipped import default_model

FRAMES = 16
GROUP = 8  # videos generated as one batch
console = Console(width=100)  # the table's eight columns stay whole


def generate_rows(pipeline, clips, given: str | None, samples: int, guidance: float, context: int = 1):
    """Videos ``[V, S, T, H, W, 3]`` with condition ``given`` alone (None: none)."""
    out = []
    sampling = SamplingConfig(guidance=guidance)
    for first in range(0, len(clips), GROUP):
        group = clips[first : first + GROUP]
        conditions = [{given: pipeline.conditions[given].from_sample(c)} if given else {} for c in group]
        out.append(
            pipeline.generate_batch(
                [c.frames[:context].numpy() for c in group], conditions, FRAMES, samples,
                seeds=range(first, first + len(group)), sampling=sampling,
            )
        )  # fmt: skip
    return np.concatenate(out)


def real_token_videos(pipeline, clips) -> list[np.ndarray]:
    autoencoder = pipeline.autoencoder
    videos = []
    with torch.no_grad():
        for clip in clips:
            x = frames_to_tensor(clip.frames)
            decoded = autoencoder.decode_video(autoencoder.tokenize(x)[None], x[None, :1])
            videos.append(tensor_to_frames(decoded)[0].numpy())
    return videos


def per_video(videos, clips, classify, key: str) -> np.ndarray:
    """Measure ``key`` per video, averaged over its samples: ``[V]``."""
    return np.array(
        [
            np.mean([measure(v, clip, classify)[key] for v in samples])
            for samples, clip in zip(videos, clips, strict=True)
        ]
    )


def fraction(none: np.ndarray, given: np.ndarray, real: np.ndarray, draws: int = 2000) -> tuple[float, float]:
    """The control fraction and its standard error (bootstrap over videos, the terms paired); NaN for
    both where the real tokens do not beat "none" by 2 standard errors: no ceiling to be a fraction of."""
    gain = none - real
    if not gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)):
        return float("nan"), float("nan")
    value = (none.mean() - given.mean()) / gain.mean()
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(none), size=(draws, len(none)))
    gap = none[picks].mean(1) - real[picks].mean(1)
    boot = (none[picks].mean(1) - given[picks].mean(1))[gap != 0] / gap[gap != 0]  # a draw may tie
    return float(value), float(np.std(boot))


def control(pipeline, clips, classify, samples: int, weights: list[float], known: dict | None = None) -> dict:
    """{weight: {condition: {measure, none, with, real, fraction, se}}} over ``clips``. ``known``: the W = 1
    rows of an earlier run on the same clips and samples (its JSON): "none", the real tokens and W = 1
    are taken from it, not made again."""
    if known is None:
        real = [[v] for v in real_token_videos(pipeline, clips)]
        none_videos = generate_rows(pipeline, clips, None, samples, 1.0)
    out = {}
    for weight in weights:
        if known is not None and weight == 1.0:
            out[weight] = known
            continue
        rows = {}
        for name in pipeline.conditions:
            key, sign = OWN_MEASURE[name]
            with_videos = generate_rows(pipeline, clips, name, samples, weight)
            # errors as they are, similarities (mIoU, SSIM) as 1 - x: lower is better for all
            flip = (lambda a: 1 - a) if sign > 0 else (lambda a: a)
            given = flip(per_video(with_videos, clips, classify, key))
            if known is None:
                none, ceiling = (flip(per_video(v, clips, classify, key)) for v in (none_videos, real))
            else:
                none, ceiling = (np.array(known[name]["per_video"][k]) for k in ("none", "real tokens"))
            value, se = fraction(none, given, ceiling)
            rows[name] = {
                "measure": key, "none": float(none.mean()), "with": float(given.mean()),
                "real tokens": float(ceiling.mean()), "fraction": value, "se": se,
                "per_video": {"none": none.tolist(), "with": given.tolist(), "real tokens": ceiling.tolist()},
            }  # fmt: skip
            console.print(f"W={weight:g} {name}: fraction {value:.3f} ± {2 * se:.3f}")
        out[weight] = rows
    return out


def beats_copying(pipeline, clips, samples: int) -> dict:
    """Unconditional prediction from 4 context frames at t = 8 against copying frame 3."""
    t = 8
    greedy, sampled, copy = [], [], []
    for first in range(0, len(clips), GROUP):
        group = clips[first : first + GROUP]
        contexts = [c.frames[:4].numpy() for c in group]
        seeds = range(first, first + len(group))
        g = pipeline.generate_batch(contexts, [{}] * len(group), t + 1, 1, seeds, SamplingConfig(greedy=True))
        s = pipeline.generate_batch(contexts, [{}] * len(group), t + 1, samples, seeds, SamplingConfig())
        for clip, gv, sv in zip(group, g, s, strict=True):
            real = clip.frames[t].numpy()
            greedy.append(float(ssim(gv[0, t], real)))
            sampled.append(float(np.mean([ssim(v[t], real) for v in sv])))
            copy.append(float(ssim(clip.frames[3].numpy(), real)))
    diff = np.subtract(greedy, copy)
    return {
        "greedy": float(np.mean(greedy)), "sampled": float(np.mean(sampled)), "copy": float(np.mean(copy)),
        "greedy_minus_copy": float(diff.mean()), "se": float(diff.std(ddof=1) / np.sqrt(len(diff))),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="pipeline folder (default: the shipped model)")
    parser.add_argument("--data", type=Path, required=True, help="the recipe's toyworld")
    parser.add_argument("--videos", type=int, default=80)
    parser.add_argument(
        "--val-videos", type=int, help="videos of the val split that choose W (default: --videos)"
    )
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--val-samples", type=int, help="samples a val video (default: --samples)")
    parser.add_argument("--guidance", default="1", help="comma-separated weights; 1 is always scored")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--out", type=Path, default=Path("control_joint.json"))
    parser.add_argument(
        "--known",
        type=Path,
        help="an earlier --out on the same split, videos and samples: W = 1 is read from it",
    )
    parser.add_argument(
        "--no-copying", action="store_true", help="skip the comparison with copying (a quicker curve point)"
    )
    args = parser.parse_args()
    start = time.monotonic()
    torch.set_grad_enabled(False)
    pipeline = CCVSPipeline.from_pretrained(args.model or default_model())
    weights = sorted({1.0, *(float(w) for w in args.guidance.split(","))})

    def clips_of(split, videos):
        data = ClipDataset(
            args.data, num_frames=FRAMES, size=pipeline.frame_size, split=split, crop="first", with_truth=True
        )
        return [data[i] for i in range(min(videos, len(data)))]

    classify = motion_classifier(args.data, pipeline.frame_size)
    result = {
        "videos": args.videos,
        "val_videos": args.val_videos or args.videos,
        "val_samples": args.val_samples or args.samples,
        "samples": args.samples,
        "weights": weights,
    }
    best = {name: 1.0 for name in pipeline.conditions}
    if len(weights) > 1:
        val = control(
            pipeline, clips_of("val", args.val_videos or args.videos), classify,
            args.val_samples or args.samples, weights,
        )  # fmt: skip
        best = {name: max(weights, key=lambda w: val[w][name]["fraction"]) for name in pipeline.conditions}
        result["val"] = {str(w): rows for w, rows in val.items()}
    clips = clips_of(args.split, args.videos)
    known = None
    if args.known is not None:
        earlier = json.loads(args.known.read_text())
        if (earlier["videos"], earlier["samples"]) != (
            args.videos,
            args.samples,
        ) or args.split not in earlier:
            sys.exit(f"{args.known} was made on other videos, samples or split")
        known = earlier[args.split]["1.0"]
    tested = control(pipeline, clips, classify, args.samples, sorted({1.0, *best.values()}), known)
    result[args.split] = {str(w): rows for w, rows in tested.items()}
    result["best_weight"] = best
    result["copying"] = None if args.no_copying else beats_copying(pipeline, clips, args.samples)
    result["minutes"] = round((time.monotonic() - start) / 60, 1)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(
        title=f"control fractions ({len(clips)} {args.split} videos x {args.samples} samples, {FRAMES} frames from 1)"
    )
    for column in (
        "condition",
        "measure",
        "none",
        "with",
        "real tokens",
        "fraction W=1",
        "best W",
        "fraction",
    ):
        table.add_column(column, justify="left" if column in ("condition", "measure") else "right")
    for name in pipeline.conditions:
        one, top = tested[1.0][name], tested[best[name]][name]
        table.add_row(name, one["measure"], f"{one['none']:.3f}", f"{one['with']:.3f}", f"{one['real tokens']:.3f}",
                      f"{one['fraction']:.2f}±{2 * one['se']:.2f}", f"{best[name]:g}", f"{top['fraction']:.2f}±{2 * top['se']:.2f}")  # fmt: skip
    console.print(table)
    c = result["copying"]
    if c is not None:
        console.print(f"t = 8 from 4 context frames: greedy SSIM {c['greedy']:.3f}, copying {c['copy']:.3f} "
                  f"(difference {c['greedy_minus_copy']:+.4f}, 2 s.e. {2 * c['se']:.4f}); sample mean {c['sampled']:.3f}")  # fmt: skip
    console.print(f"took {result['minutes']} minutes; every number in {args.out}")


if __name__ == "__main__":
    main()

RESULTS = """
2026-12-03 (2 CPU cores, torch 2.9.1, with other work): the shipped model, the weight chosen on 16 val
videos x 1 sample, reported on 80 test videos x 2 samples (W = 1 from the earlier run's JSON), 68.2 min:

  python benchmarks/control_joint.py --data runs/default/toyworld --videos 80 --samples 2 --val-videos 16 \
      --val-samples 1 --guidance 2,4 --known runs/default/measured.json --no-copying

  condition  measure (as an error)   none    with W=1  real tokens  fraction W=1  best W  fraction
  audio      striker height px       1.511   0.659     0.068        0.59 (0.03)   1       0.59 (0.03)
  state      gripper px              4.001   3.615     1.479        0.15 (0.08)   2       0.29 (0.07)
  layout     1 - mIoU                0.426   0.350     0.240        0.41 (0.03)   1       0.41 (0.03)
  endframe   1 - end-frame SSIM      0.658   0.447     0.301        0.59 (0.04)   2       0.82 (0.03)
  class      speed error px/frame    0.666   0.538     0.305        0.36 (0.13)   2       0.61 (0.15)

  (2 standard errors in brackets.) The run without --no-copying the same day: greedy SSIM at t = 8
  0.573 against copying's 0.589; sample mean 0.547.
"""
