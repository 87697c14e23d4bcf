"""``ccvs evaluate``: a trained pipeline scored on a dataset's test videos under a written protocol
(paper Sec. 4 "Metrics", Fig. 6, Table D4).

Tasks: ``reconstruction`` (stage 1 alone: every frame's tokens decoded, the first ``context`` frames
real), ``prediction`` (frames after the first ``context`` ones generated; the pipeline's conditions,
if any, taken from each test video as ``ccvs generate`` takes a user's), or a condition's name (the
same, checking the pipeline has it, plus the condition's own measures, ``Condition.measures``: for
the end frame the point-to-point measures of Table D4, with 95% intervals over the test videos).
Each of ``runs`` runs draws other seeds; the result is
the mean and standard deviation over runs of: SSIM and PSNR per time step, FVD (when I3D weights are
given), DIV on whole frames and moving parts (when ``samples >= 2``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core import distributed
from ccvs_core.data.clips import ClipDataset
from ccvs_core.errors import InputError, PluginError
from ccvs_core.generation import SamplingConfig
from ccvs_core.measures import own_measures
from ccvs_core.metrics import diversity, psnr, ssim
from ccvs_core.metrics.frechet import frechet_distance_of
from ccvs_core.metrics.fvd import fvd_protocol
from ccvs_core.metrics.i3d import I3D, i3d_features, load_i3d, random_i3d
from ccvs_core.metrics.intervals import confidence_interval, over_runs
from ccvs_core.models.autoencoder import frames_to_tensor, tensor_to_frames
from ccvs_core.pipeline import CCVSPipeline
from ccvs_core.sensitivity import generation_check, likelihood_check

BATCH_SAMPLES = 16  # samples generated at once: the transformer reads its weights once per token for all


@attrs.frozen
class EvaluationSetup:
    task: str
    context: int = 1
    frames: int = 16
    runs: int = 1
    samples: int = 1
    videos: int | None = None  # None: every test video
    split: str = "test"
    i3d: str | None = None  # weights file, "random", or None (no FVD)
    seed: int = 0


def _check(setup: EvaluationSetup, pipeline: CCVSPipeline) -> None:
    known = ("reconstruction", "prediction", "sensitivity", *pipeline.conditions)
    if setup.task not in known:
        raise InputError(
            "--task", f"'{setup.task}' is not one of {', '.join(known)} (this pipeline's conditions)"
        )
    for flag, value, low in (
        ("--runs", setup.runs, 1),
        ("--samples", setup.samples, 1),
        ("--frames", setup.frames, 2),
    ):
        if value < low:
            raise InputError(flag, f"must be at least {low}, got {value}")
    if not 0 <= setup.context < setup.frames:
        raise InputError("--context", f"must be 0 .. {setup.frames - 1} frames, got {setup.context}")
    if setup.task == "reconstruction" and setup.context < 1:
        raise InputError("--context", "reconstruction needs at least one real frame to decode from")
    if setup.task == "sensitivity":
        if not pipeline.conditions:
            raise InputError("--task sensitivity", "this pipeline has no conditions to check")
        window = pipeline.transformer.config.window
        if setup.frames < window:
            raise InputError(
                "--frames",
                f"sensitivity scores windows of the model's {window} frames: give at least {window}",
            )


def _reconstruct(pipeline: CCVSPipeline, real: torch.Tensor, context: int) -> np.ndarray:
    autoencoder = pipeline.autoencoder
    device = next(autoencoder.parameters()).device
    with torch.no_grad():
        x = frames_to_tensor(real).to(device)
        tokens = autoencoder.tokenize(x)[None]
        return tensor_to_frames(autoencoder.decode_video(tokens, x[None, :context]))[0].cpu().numpy()[None]


def _groups(count: int, samples: int) -> list[list[int]]:
    """Video indices in groups of about BATCH_SAMPLES samples, generated as one batch (same results as
    one video at a time: each sample has its own seed)."""
    size = max(1, BATCH_SAMPLES // samples)
    return [list(range(i, min(i + size, count))) for i in range(0, count, size)]


def evaluate(
    pipeline: CCVSPipeline,
    data: str | Path,
    setup: EvaluationSetup,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Scores and protocol as one JSON-ready dict. ``progress(what, done, total)`` after each video
    (this process's share of them, under torchrun)."""
    _check(setup, pipeline)
    clips = ClipDataset(
        data, num_frames=setup.frames, size=pipeline.frame_size, split=setup.split, crop="first"
    )
    count = len(clips) if setup.videos is None else min(setup.videos, len(clips))
    if setup.task == "sensitivity":
        return sensitivity(pipeline, data, [clips[v] for v in range(count)], setup, progress)
    samples = 1 if setup.task == "reconstruction" else setup.samples
    model: I3D | None = None
    if setup.i3d is not None:
        model = (
            random_i3d() if setup.i3d == "random" else load_i3d(setup.i3d, next(pipeline.parameters()).device)
        )
    condition = dict(pipeline.conditions).get(setup.task)
    per_run = []
    groups = _groups(count, samples)
    mine = groups[distributed.rank() :: distributed.world_size()]
    total, done = setup.runs * sum(len(group) for group in mine), 0
    for run in range(setup.runs):
        found = []  # (video, ssim, psnr, div, own, real, fake) of this process's share of the videos
        for group in mine:
            group_clips = [clips[v] for v in group]
            if setup.task == "reconstruction":
                group_videos = [_reconstruct(pipeline, c.frames, setup.context) for c in group_clips]
            else:
                group_videos = pipeline.generate_batch(
                    [c.frames[: setup.context].numpy() if setup.context else None for c in group_clips],
                    [{n: cond.from_sample(c) for n, cond in pipeline.conditions.items()} for c in group_clips],
                    setup.frames, samples, seeds=[setup.seed + 1_000_003 * run + 1009 * v for v in group],
                    sampling=SamplingConfig(),
                )  # fmt: skip
            for v, clip, videos in zip(group, group_clips, group_videos, strict=True):
                real = clip.frames
                truth = np.broadcast_to(real.numpy(), videos.shape)
                found.append((
                    v, np.asarray(ssim(videos, truth)).mean(0), np.asarray(psnr(videos, truth)).mean(0),
                    diversity(torch.from_numpy(videos)) if samples >= 2 else None,
                    own_measures(condition, videos, real.numpy(), setup.context) if condition is not None else None,
                    real.numpy(), videos[0],
                ))  # fmt: skip
                done += 1
                if progress:
                    progress(f"run {run + 1}/{setup.runs}", done, total)
        # under torchrun every process has scored its share: all of them, in video order
        found = sorted(distributed.gather(found), key=lambda f: f[0])
        _, ssims, psnrs, divs, own, reals, fakes = zip(*found, strict=True)
        divs = [d for d in divs if d is not None]
        own = [o for o in own if o is not None]
        scores: dict[str, Any] = {
            "ssim": np.mean(ssims, 0).tolist(), "psnr": np.mean(np.where(np.isinf(psnrs), 100.0, psnrs), 0).tolist(),
        }  # fmt: skip
        if model is not None and distributed.is_main():  # the others' results are not used
            scores["fvd"] = frechet_distance_of(
                i3d_features(model, np.stack(reals)), i3d_features(model, np.stack(fakes))
            )
        if divs:
            scores["div_whole"] = float(np.mean([d["whole"] for d in divs]))
            scores["div_moving"] = float(np.mean([d["moving"] for d in divs]))
        if own and own[0]:
            if any(set(video) != set(own[0]) for video in own):
                raise PluginError(
                    f"condition '{condition.name}'", "measures() must name the same scores for every video"
                )
            scores["measures"] = {
                key: attrs.asdict(confidence_interval([video[key] for video in own])) for key in own[0]
            }
        per_run.append(scores)
    return {
        "summary": summarize(per_run, setup.context),
        "runs": per_run,
        "protocol": protocol(setup, pipeline, data, count, samples),
    }


def sensitivity(
    pipeline: CCVSPipeline,
    data,
    clips: list,
    setup: EvaluationSetup,
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, Any]:
    """``--task sensitivity`` (module ``sensitivity``): each condition's likelihood check, and its
    generation check where it declares measures as errors."""
    if len(clips) < 2:
        raise InputError("--videos", "sensitivity compares videos with each other: give at least 2")
    window = pipeline.transformer.config.window
    likelihood = likelihood_check(pipeline, [c.head(window) for c in clips], progress)
    generation = generation_check(
        pipeline, clips, setup.frames, setup.context, setup.samples, setup.seed, SamplingConfig(), progress
    )
    summary = {}
    for name, entry in likelihood.items():
        for choice in ("own", "other", "none"):
            if choice in entry:
                summary[f"{name}.bits_{choice}"] = [entry[choice]["mean"], entry[choice]["half_width"]]
    for entry in generation.values():
        for key, pair in entry.items():
            summary[f"{key}.error_own"] = [pair["own"]["mean"], pair["own"]["half_width"]]
            summary[f"{key}.error_other"] = [pair["other"]["mean"], pair["other"]["half_width"]]
    record = protocol(setup, pipeline, data, len(clips), setup.samples)
    record["likelihood"] = (
        f"bits per frame of each video's first {window} frames' tokens, teacher-forced, given the video's "
        "own condition, the next test video's whose tokens differ, and none (absent tokens); each condition "
        + ("alone (the others absent)" if pipeline.condition_dropout else "with the others the video's own")
    )
    record["generation"] = (
        "videos generated with the own and with the other video's input, scored by the condition's "
        "measures against the real video, as errors (Condition.measure_errors)"
    )
    return {"summary": summary, "likelihood": likelihood, "generation": generation, "protocol": record}


def summarize(per_run: list[dict[str, Any]], context: int) -> dict[str, list[float]]:
    """``{metric: [mean, sd]}`` over runs; SSIM and PSNR are averaged over the generated frames first."""
    out = {}
    for key in ("ssim", "psnr"):
        out[key] = list(
            over_runs(
                [np.mean(r[key][context:]) if context < len(r[key]) else np.mean(r[key]) for r in per_run]
            )
        )
    for key in ("fvd", "div_whole", "div_moving"):
        if key in per_run[0]:
            out[key] = list(over_runs([r[key] for r in per_run]))
    for key in per_run[0].get("measures", {}):
        out[key] = list(over_runs([r["measures"][key]["mean"] for r in per_run]))
    return out


def protocol(
    setup: EvaluationSetup, pipeline: CCVSPipeline, data, count: int, samples: int
) -> dict[str, Any]:
    from ccvs_core import __version__

    frames = setup.frames
    record = {
        "ccvs_core": __version__, "task": setup.task, "data": str(data), "split": setup.split,
        "videos": count, "samples_per_video": samples, "runs": setup.runs,
        "frames_per_video": frames, "context_frames": setup.context,
        "scored_frames": f"{setup.context}..{frames - 1} (SSIM/PSNR summary), all {frames} (FVD)",
        "clip": "the first frames of each video, resized to cover and centre-cropped",
        "resolution": list(pipeline.frame_size), "colour_order": "RGB (decoded by PyAV/Pillow, never BGR)",
        "sampling": SamplingConfig().to_dict() if setup.task != "reconstruction" else None,
        "seeds": f"sample i of video v in run r: {setup.seed} + 1000003 r + 1009 v + i",
        "ssim": "Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, data range 255, mean over RGB",
        "psnr": "data range 255; a perfect frame counts as 100 dB",
        "div": "mean |a - b| of RGB in [0, 1] over sample pairs; moving parts: Lucas-Kanade flow >= 20% of the max",
        "conditions": sorted(pipeline.conditions) if setup.task != "reconstruction" else [],
    }  # fmt: skip
    if setup.i3d is not None:
        weights = None if setup.i3d == "random" else setup.i3d
        record["fvd"] = fvd_protocol(weights, count, count, frames)
    else:
        record["fvd"] = "not computed (no --i3d weights file)"
    return record
