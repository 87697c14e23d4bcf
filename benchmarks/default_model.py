"""The default model's recipe: from nothing to the pipeline that ships inside ccvs, on 2 CPU cores.

    python benchmarks/default_model.py --work runs/default            # every stage; rerun to resume
    python benchmarks/default_model.py --work runs/default --dry-run  # print the commands only
    python benchmarks/default_model.py --work runs/default --ship     # then: into the package

Each stage is one `ccvs` command of the README with the `toyworld` presets, so a user who runs those
commands gets this model:

1. data: `ccvs data toyworld` at its defaults (32 x 32 frames, camera pan up to 0.5 px a frame),
   2,400 videos (on 320 a 4-layer stage 2 memorised its training videos, RESULTS.md);
2. stage 1: `ccvs train autoencoder` (4 x 4 tokens of a 512-entry codebook per frame);
3. the audio condition's sound tokenizer: `ccvs train audio-tokenizer`;
4. stage 2: `ccvs train transformer` with all five conditions and condition dropout, in bfloat16
   (1.4x the steps a minute on CPUs with AVX512-BF16; `--precision float32` elsewhere).

Every stage resumes from its own checkpoints when the script runs again; a finished stage is skipped.
WORK/recipe.json records each stage's command and the minutes it took (summed over resumed runs) and
WORK/logs/ each stage's output. The pipeline is WORK/transformer/pipeline.

--ship writes it into the package (ccvs_core/default_model: float16 weights, checked to decode the
same frames as float32 within SHIP_TOLERANCE; config.json's "about" records the recipe's commands,
minutes, toyworld settings and seed, and WORK/measured.json, the "What it must show" table of
benchmarks/control_joint.py, when it is there) and the sample inputs, from test video SAMPLE_VIDEO
(ccvs_core/samples: drums.wav, trajectory.json, context.png, last.png, layout.json), which
`ccvs examples --out DIR` writes out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

VIDEOS = 2400
SEED = 0
SAMPLE_VIDEO = "v00009"  # the first test video (index % 10 == 9): never trained on
SAMPLE_FRAMES = 16  # what `ccvs generate` makes by default: the end frame is frame 15
SHIP_TOLERANCE = 2.0  # mean |float16 - float32| of greedy decoded frames, in 0-255 levels
# the layout on the frame tokens' 4 x 4 grid (its default 8 x 8 is 4x the tokens for cells of 8 px)
CONDITIONS = ("audio:tokenizer={sound}", "state", "layout:grid=[4,4]", "endframe", "class")


def stages(work: Path, precision: str) -> list[tuple[str, list[str], Path]]:
    """(name, ccvs arguments, the file whose presence says the stage is done)."""
    data, ae, sound, tr = (work / n for n in ("toyworld", "autoencoder", "sound", "transformer"))
    conds = [a for c in CONDITIONS for a in ("--cond", c.format(sound=sound / "tokenizer"))]
    return [
        (
            "data",
            ["data", "toyworld", "--out", str(data), "--videos", str(VIDEOS), "--seed", str(SEED)],
            data / "toyworld.json",
        ),
        ("autoencoder", ["train", "autoencoder", "--data", str(data), "--out", str(ae)], ae / "done"),
        ("sound", ["train", "audio-tokenizer", "--data", str(data), "--out", str(sound)], sound / "done"),
        (
            "transformer",
            [
                "train", "transformer", "--data", str(data), "--out", str(tr),
                "--autoencoder", str(ae / "autoencoder"), *conds, "--precision", precision,
            ],
            tr / "done",
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for every stage (resumed)")
    parser.add_argument("--precision", default="bfloat16", choices=("bfloat16", "float32"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--ship", action="store_true", help="copy the trained pipeline into the package")
    args = parser.parse_args()
    if args.ship:
        ship(args.work)
        return
    work = args.work
    record_path = work / "recipe.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"stages": {}}
    ccvs = [sys.executable, "-m", "ccvs_core.cli"]
    for name, arguments, done in stages(work, args.precision):
        line = "ccvs " + shlex.join(arguments)
        if args.dry_run:
            print(line)
            continue
        if done.exists():
            print(f"{name}: done ({record['stages'].get(name, {}).get('minutes', '?')} min)")
            continue
        (work / "logs").mkdir(parents=True, exist_ok=True)
        print(f"{name}: {line}", flush=True)
        start = time.perf_counter()
        with open(work / "logs" / f"{name}.log", "a") as log:
            code = subprocess.call([*ccvs, *arguments], stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        entry = record["stages"].setdefault(name, {"command": line, "minutes": 0.0})
        entry["minutes"] = round(entry["minutes"] + (time.perf_counter() - start) / 60, 2)
        record["total_minutes"] = round(sum(s["minutes"] for s in record["stages"].values()), 2)
        work.mkdir(parents=True, exist_ok=True)
        tmp = record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(record_path)
        if code != 0:
            sys.exit(f"{name} failed (exit {code}); see {work / 'logs' / (name + '.log')}; rerun to resume")
        if name != "data":
            done.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        print(f"{name}: {entry['minutes']} min", flush=True)
    if not args.dry_run:
        print(f"pipeline: {work / 'transformer' / 'pipeline'} ({record['total_minutes']} min in all)")


def ship(work: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from ccvs_core.generation import SamplingConfig
    from ccvs_core.pipeline import CCVSPipeline
    from ccvs_core.shipped import DEFAULT_MODEL, SAMPLES

    record = json.loads((work / "recipe.json").read_text())
    pipeline = CCVSPipeline.from_pretrained(work / "transformer" / "pipeline")
    measured = work / "measured.json"
    pipeline.about = {
        "recipe": "python benchmarks/default_model.py --work W",
        "stages": record["stages"],
        "total_minutes": record["total_minutes"],
        "toyworld": json.loads((work / "toyworld" / "toyworld.json").read_text()),
        "measured": json.loads(measured.read_text()) if measured.exists() else None,
    }
    pipeline.save_pretrained(DEFAULT_MODEL, half=True)
    video = work / "toyworld" / SAMPLE_VIDEO
    frames = sorted((video / "frames").glob("*.png"))
    context = np.array(Image.open(frames[0]).convert("RGB"))[None]
    half = CCVSPipeline.from_pretrained(DEFAULT_MODEL)
    greedy = SamplingConfig(greedy=True)
    with torch.no_grad():
        a = pipeline.generate(context, {}, 8, 2, 0, greedy).astype(np.float64)
        b = half.generate(context, {}, 8, 2, 0, greedy).astype(np.float64)
    difference = float(np.abs(a - b).mean())
    print(f"float16 against float32, greedy, 8 frames: mean |difference| {difference:.3f} levels")
    if difference > SHIP_TOLERANCE:
        sys.exit(f"float16 weights decode other frames ({difference:.2f} > {SHIP_TOLERANCE}): not shipped")
    SAMPLES.mkdir(exist_ok=True)
    state = json.loads((video / "state.json").read_text())
    size = json.loads((work / "toyworld" / "toyworld.json").read_text())["size"]
    samples = {
        "drums.wav": (video / "audio.wav").read_bytes(),
        "trajectory.json": (json.dumps({**state, "size": [size, size]}) + "\n").encode(),
        "context.png": frames[0].read_bytes(),
        "last.png": frames[SAMPLE_FRAMES - 1].read_bytes(),
        "layout.json": (video / "layout.json").read_bytes(),
    }
    for name, data in samples.items():
        tmp = SAMPLES / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(SAMPLES / name)
    meta = json.loads((video / "meta.json").read_text())
    print(
        f"shipped {DEFAULT_MODEL} and {len(samples)} samples of {SAMPLE_VIDEO} ({meta['class']}) in {SAMPLES}"
    )


if __name__ == "__main__":
    main()
