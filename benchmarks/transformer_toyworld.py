"""Stage 2 on toyworld: train the transformer on the stage-1 autoencoder's tokens (CPU) and score its
future prediction.

    python benchmarks/transformer_toyworld.py --work runs/ae-bench     # after benchmarks/autoencoder_toyworld.py

It uses the exported "full" autoencoder of the stage-1 benchmark in --work and a larger toyworld
(STAGE2_VIDEOS: stage 1's videos and more, written to --work/toyworld-2400 the first time), trains a
transformer (MODEL: the `toyworld` preset made smaller for the CPU budget) with an 8-frame
window for STEPS steps in bfloat16 autocast, prints how well it predicts a frame's tokens from the
real ones before it (against copying the previous frame's tokens), then, on the 40 test videos,
predicts the frames after the first CONTEXT real ones (--context; 4 samples per video, the sliding
window past frame 8; top-k 100 as in the paper, and top-k 10 at temperature 0.8) and reports SSIM
and PSNR at t = 4, 8 and 15 (frame indices of the video) — the mean over samples and the best
sample — next to copying the last context frame (the baseline to beat at t = 8) and two token
sequences decoded the way generation decodes: the real tokens (what a perfect transformer would
reach: the ceiling) and the last context frame's tokens repeated (a transformer that predicts no
change). It writes a sample grid (rows: real video, then 3 predictions) to
--work/transformer/prediction.png.

Why 4 context frames: toyworld's camera pans in a random direction at a random speed and the gripper
follows one of four motions, so one frame does not tell where the video goes; any sample of a
future that moves scores below standing still on average. Four frames show the pan and the motion;
future prediction on BAIR is judged with 1 to 4 conditioning frames (paper Table 3, "Cond.").
`--context 1` gives the one-frame numbers.

Last printed: see RESULTS at the end of this file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ccvs_core.data.clips import ClipDataset
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.generation import SamplingConfig
from ccvs_core.media import make_grid, write_image
from ccvs_core.metrics import psnr, ssim
from ccvs_core.models.autoencoder import frames_to_tensor, tensor_to_frames
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.training.transformer import TransformerTrainer
from ccvs_core.training.transformer_run import plan_transformer_run

STEPS = 5500
# Stage 2 reads a larger toyworld than stage 1 (its first 400 videos are stage 1's, the same bytes, so
# the 40 scored test videos are too): on stage 1's 320 training videos the 4-layer model below
# memorises them (train loss 1.46 at step 3,900, test loss up from 1.90 at step 1,050 to 2.04 at
# 3,000, and its likeliest token right less often than copying). Writing and tokenizing the 2,000
# more videos takes ~4 minutes of the budget.
STAGE2_VIDEOS = 2400
# 1.4x float32's steps per minute on 2 CPU cores with AVX512-BF16 (benchmarks/training_precision.py)
PRECISION = "bfloat16"
WINDOW = 8
# Smaller than the toyworld preset (8 layers, width 256), for the 60-minute CPU budget: the budget
# buys ~10M tokens, far fewer than the preset needs, and a 4-layer model of width 192 takes 0.5 s a
# step against 1.35 s; it reached the preset model's 2,500-step test loss (1.88) in 1,050 steps, 9
# minutes, against 56 (benchmarks/RESULTS.md). lr 1e-3 with a 100-step warm-up (against 3e-4 / 500)
# reaches the copy-the-last-frame stage of the loss (~2.4) 350 steps sooner.
MODEL = {"window": WINDOW, "layers": 4, "width": 192, "heads": 6}
LEARNING = {"lr": 1e-3, "warmup": 100}
FRAMES = 16
SAMPLES = 4
CONTEXT = 4  # real frames given: enough to see the camera's pan and the gripper's motion (one frame is not)
GROUP = 4  # videos generated as one batch (GROUP x SAMPLES samples)
TIMES = (4, 8, 15)
# the paper's sampling, and a sharper one (fewer, likelier tokens): diversity costs SSIM against one truth
SAMPLINGS = {
    "top-k 100": SamplingConfig(top_k=100),
    "top-k 10, T 0.8": SamplingConfig(top_k=10, temperature=0.8),
    # by --samplings only: does a likelier future score better?
    "top-k 10, T 0.5": SamplingConfig(top_k=10, temperature=0.5),
    "greedy": SamplingConfig(top_k=1),
}
DEFAULT_SAMPLINGS = "top-k 100;top-k 10, T 0.8"
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work", type=Path, default=Path("runs/ae-bench"), help="the stage-1 benchmark's folder"
    )
    parser.add_argument(
        "--eval-only", action="store_true", help="evaluate the trained run in --work/transformer"
    )
    parser.add_argument(
        "--context", type=int, default=CONTEXT, help=f"real frames given as context (default {CONTEXT})"
    )
    parser.add_argument("--videos", type=int, default=40, help="test videos scored (the first ones)")
    parser.add_argument(
        "--samplings", default=DEFAULT_SAMPLINGS, help=f"';'-separated, of: {'; '.join(SAMPLINGS)}"
    )
    args = parser.parse_args()
    unknown = [label for label in args.samplings.split(";") if label not in SAMPLINGS]
    if unknown:
        parser.error(f"--samplings: unknown {unknown}; choose from {list(SAMPLINGS)}")
    samplings = {label: SAMPLINGS[label] for label in args.samplings.split(";")}
    data, out = args.work / f"toyworld-{STAGE2_VIDEOS}", args.work / "transformer"
    start = time.monotonic()
    if not args.eval_only:
        stage1 = ToyworldConfig.from_json(args.work / "toyworld" / "toyworld.json")
        if not (data / "toyworld.json").is_file():  # stage 1's videos and more, from the same seed
            generate_toyworld(stage1.replace(videos=STAGE2_VIDEOS), data, overwrite=True)
        overrides = {"training": {"steps": STEPS, "precision": PRECISION, **LEARNING}, "transformer": MODEL}
        run = plan_transformer_run(out, args.work / "full" / "autoencoder", "toyworld", overrides)
        TransformerTrainer(run, data, out).fit()
    train_minutes = (time.monotonic() - start) / 60
    pipeline = CCVSPipeline.from_pretrained(out / "pipeline")
    clips = ClipDataset(data, num_frames=FRAMES, size=pipeline.frame_size, split="test", crop="first")
    real = torch.stack(
        [clips[i].frames for i in range(min(args.videos, len(clips)))]
    )  # uint8 [V, T, H, W, 3]
    console.print(next_frame_tokens(pipeline, real))
    scores = {"copy": {t: [] for t in TIMES}, **reference_decodings(pipeline, real, args.context)}
    for label in samplings:
        scores |= {f"{label}, mean": {t: [] for t in TIMES}, f"{label}, best": {t: [] for t in TIMES}}
    grid_rows = []
    last = args.context - 1  # the last context frame: what copying repeats
    for video in real:
        for t in TIMES:
            scores["copy"][t].append((float(ssim(video[last], video[t])), float(psnr(video[last], video[t]))))
    for label, sampling in samplings.items():
        # GROUP videos x SAMPLES samples as one batch; video v's samples draw with seeds v, v + 1, ...
        for first in range(0, len(real), GROUP):
            group = real[first : first + GROUP]
            predicted = torch.from_numpy(
                pipeline.generate_batch(
                    list(group[:, : args.context].numpy()), num_frames=FRAMES, num_samples=SAMPLES,
                    seeds=range(first, first + len(group)), sampling=sampling,
                )
            )  # fmt: skip
            for v, (video, samples) in enumerate(zip(group, predicted, strict=True), start=first):
                for t in TIMES:
                    truth = video[t].expand(SAMPLES, -1, -1, -1)
                    s, p = ssim(samples[:, t], truth), psnr(samples[:, t], truth)
                    scores[f"{label}, mean"][t].append((float(s.mean()), float(p.mean())))
                    scores[f"{label}, best"][t].append((float(s.max()), float(p.max())))
                if v < 4 and label == next(iter(samplings)):  # the grid shows the first sampling
                    grid_rows += [video.numpy(), *samples[:3].numpy()]
    write_image(out / "prediction.png", make_grid(np.stack(grid_rows)))
    table = Table(
        title=f"toyworld future prediction from {args.context} frame(s) ({len(real)} test videos, {SAMPLES} samples each)"
    )
    table.add_column("prediction")
    for t in TIMES:
        table.add_column(f"SSIM t={t}", justify="right")
        table.add_column(f"PSNR t={t}", justify="right")
    labels = {
        "copy": "copy the last context frame",
        "true tokens": "the real tokens, decoded (the ceiling)",
        "copied tokens": "the last context frame's tokens, decoded",
    }
    for name in (*[k for k in scores if k not in labels], *labels):
        cells = []
        for t in TIMES:
            values = np.array(scores[name][t])
            cells += [f"{values[:, 0].mean():.3f}", f"{values[:, 1].mean():.2f}"]
        table.add_row(labels.get(name, f"transformer, {name}"), *cells)
    console.print(table)
    for label in samplings:  # the target as a paired comparison: is the mean of the samples above copying?
        gain = np.array(scores[f"{label}, mean"][8])[:, 0] - np.array(scores["copy"][8])[:, 0]
        console.print(
            f"{label}, mean SSIM at t=8 minus copying's, paired on the videos: {gain.mean():+.4f} "
            f"(2 x std. error {2 * gain.std(ddof=1) / np.sqrt(len(gain)):.4f}; above on {(gain > 0).sum()} of {len(gain)})"
        )
    eval_minutes = (time.monotonic() - start) / 60 - train_minutes
    console.print(
        f"training took {train_minutes:.0f} min, evaluation {eval_minutes:.0f} min; grid: {out / 'prediction.png'}"
    )


@torch.no_grad()
def reference_decodings(pipeline: CCVSPipeline, real: torch.Tensor, context: int) -> dict:
    """SSIM / PSNR at TIMES of two token sequences decoded the way generation decodes (from the first
    ``context`` real frames, doubly autoregressively): the videos' real tokens, what a perfect
    transformer would give (the ceiling), and the last context frame's tokens repeated, what a
    transformer that predicts no change gives."""
    autoencoder = pipeline.autoencoder
    x = frames_to_tensor(real)  # [V, T, 3, H, W]
    grid = autoencoder.config.token_grid(pipeline.frame_size)
    tokens = autoencoder.tokenize(x.flatten(0, 1)).view(*x.shape[:2], *grid)
    copied = tokens.clone()
    copied[:, context:] = tokens[:, context - 1 : context]
    out = {}
    for name, sequence in (("true tokens", tokens), ("copied tokens", copied)):
        video = tensor_to_frames(autoencoder.decode_video(sequence, x[:, :context]))
        out[name] = {
            t: [(float(ssim(v[t], r[t])), float(psnr(v[t], r[t]))) for v, r in zip(video, real, strict=True)]
            for t in TIMES
        }
    return out


@torch.no_grad()
def next_frame_tokens(pipeline: CCVSPipeline, real: torch.Tensor) -> str:
    """How well the transformer predicts a frame's tokens from the real ones before it (teacher forcing,
    the first window of each test video): test loss, and how often its likeliest token is the true one,
    next to how often the previous frame's token at the same place is (copying, in token space)."""
    layout = pipeline.transformer.layout
    tokens = torch.stack([pipeline.context_tokens(video[: layout.num_frames]) for video in real])
    sequence = layout.join(tokens, {})
    logits = pipeline.transformer(sequence)
    hits, copies, losses, changed_hits, changed_p = [], [], [], [], []
    for t in range(1, layout.num_frames):  # frame 0 has no previous frame to copy
        scores = frame_scores(layout, logits, t)
        truth, previous = tokens[:, t].flatten(1), tokens[:, t - 1].flatten(1)
        right = scores.argmax(-1) == truth
        changed = truth != previous
        hits.append(right.float().mean())
        copies.append((previous == truth).float().mean())
        losses.append(torch.nn.functional.cross_entropy(scores.transpose(1, 2), truth))
        changed_hits.append(right[changed].float())
        changed_p.append(scores.softmax(-1).gather(-1, truth[..., None])[..., 0][changed])
    return (
        f"next-frame tokens of the test videos (frames 1-{layout.num_frames - 1}, real tokens before them): "
        f"loss {float(torch.stack(losses).mean()):.3f}, likeliest token right {float(torch.stack(hits).mean()):.3f}, "
        f"previous frame's token right {float(torch.stack(copies).mean()):.3f}; of the tokens that differ "
        f"from the previous frame's, likeliest right {float(torch.cat(changed_hits).mean()):.3f}, "
        f"mean probability of the true one {float(torch.cat(changed_p).mean()):.3f}"
    )


def frame_scores(layout, logits: torch.Tensor, t: int) -> torch.Tensor:
    """The transformer's logits ``[B, L, V]`` -> its scores of frame t's tokens ``[B, h*w, V]`` (float):
    the entry before a token scores it."""
    start = layout.frame_tokens_start(t)
    return logits[:, start - 1 : start - 1 + layout.tokens_per_frame].float()


if __name__ == "__main__":
    main()

# RESULTS
#
# 2026-11-30 (2 CPU cores, torch 2.9.1): the model `python benchmarks/transformer_toyworld.py --work
# /work/bench/ae` trains (MODEL, lr 1e-3, 5,500 steps on the 2,400-video toyworld; 53 min), scored by
# `python benchmarks/transformer_toyworld.py --work /work/bench/ae --eval-only --samplings greedy` (2 min):
#
#   next-frame tokens of the test videos (frames 1-7, real tokens before them): loss 1.572, likeliest
#   token right 0.615, previous frame's token right 0.595; of the tokens that differ from the previous
#   frame's, likeliest right 0.101, mean probability of the true one 0.114
#   prediction                                SSIM t=4  PSNR t=4  SSIM t=8  PSNR t=8  SSIM t=15  PSNR t=15
#   transformer, greedy                          0.804     20.83     0.632     16.36      0.515      13.95
#   copy the last context frame                  0.829     21.45     0.630     16.36      0.520      14.09
#   the real tokens, decoded (the ceiling)       0.897     24.18     0.862     22.35      0.824      21.19
#   the last context frame's tokens, decoded     0.808     20.88     0.629     16.34      0.513      13.95
#
# The target (mean SSIM at t = 8 above copying) is NOT met. Decoding the real tokens reaches 0.862 at
# t = 8, so the autoencoder and the doubly autoregressive decoding are not what holds the prediction
# back; the greedy prediction decodes to what the last context frame's tokens repeated give (0.632
# against 0.629), because the transformer gets the tokens that change (41% of a frame: toyworld's
# camera pans in every video) right only 10% of the time, giving the true one 0.11 probability on
# average (0.68 for the tokens that stay).
# Other decoding rules do no better (benchmarks/RESULTS.md). The 60-minute CPU budget buys 5,500 steps
# of this model and its loss had flattened (training loss 1.98 at step 3,000, 1.89 at 5,500): the
# target needs a far longer run (a GPU), not a decoding trick.
