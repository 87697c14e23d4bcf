"""The conformance kit's tiny world: a toyworld and a tiny autoencoder built once per pytest run, and
the CLI helpers plugins' tests use (``run_cli``, ``train_pipeline``, ``generate_cli``)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from ccvs_core.data.clips import ClipDataset
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.io import autoencoder_frame_size, load_autoencoder
from ccvs_core.weights import load_json

WORLD_VIDEOS, WORLD_FRAMES, WORLD_SIZE = 10, 6, 32


@attrs.frozen(eq=False)
class World:
    """A tiny toyworld (``data``), a tiny autoencoder trained two steps on it (``autoencoder``, its
    exported folder), and the clips of its training videos at the autoencoder's frame size."""

    data: Path
    autoencoder: Path
    frame_size: tuple[int, int]

    def clips(self, split: str | None = "train", frames: int = WORLD_FRAMES) -> ClipDataset:
        return ClipDataset(self.data, num_frames=frames, size=self.frame_size, split=split, crop="first")

    def load_autoencoder(self) -> FlowAutoencoder:
        return load_autoencoder(self.autoencoder).requires_grad_(False).eval()

    def stage2_argv(self) -> list:
        """``ccvs train transformer --data ... --autoencoder ... --preset tiny`` on this world (add --out)."""
        return [
            "train",
            "transformer",
            "--data",
            self.data,
            "--autoencoder",
            self.autoencoder,
            "--preset",
            "tiny",
        ]

    def first_frame(self, split: str = "test") -> Path:
        """The first frame file of the first video of ``split``."""
        return first_frame(self.data, split)


def first_frame(data: Path, split: str = "test") -> Path:
    """The first frame file of the first video of ``split`` in the toyworld folder ``data``."""
    videos = sorted(p for p in Path(data).iterdir() if p.is_dir())
    video = next(v for v in videos if load_json(v / "meta.json")["split"] == split)
    return video / "frames" / "000000.png"


_worlds: dict[Path, World] = {}


def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The pytest run's tiny world (built on first use: 10 videos of 6 frames, an autoencoder trained 2 steps)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _worlds:
        from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
        from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run

        root = tmp_path_factory.mktemp("ccvs-world")
        data = root / "toyworld"
        config = ToyworldConfig(videos=WORLD_VIDEOS, frames=WORLD_FRAMES, size=WORLD_SIZE, seed=5)
        generate_toyworld(config, data, workers=1, progress=False)
        run = plan_run(root / "ae", "tiny", {"training": {"steps": 2}})
        AutoencoderTrainer(run, data, root / "ae", progress=False).fit()
        autoencoder = root / "ae" / "autoencoder"
        _worlds[base] = World(data, autoencoder, autoencoder_frame_size(autoencoder))
    return _worlds[base]


def run_cli(argv: list[str]) -> int:
    """``ccvs ARGV`` in this process; its exit code (errors are printed, as the command prints them)."""
    from ccvs_core.cli import main

    return main([str(a) for a in argv])


def train_pipeline(world: World, out: Path, conditions: list[str], steps: int = 1) -> Path:
    """``ccvs train transformer --preset tiny --steps STEPS --cond ...`` on ``world``; the pipeline folder."""
    argv = [*world.stage2_argv(), "--out", out, "--steps", steps, "--device", "cpu"]
    for condition in conditions:
        argv += ["--cond", condition]
    code = run_cli(argv)
    if code != 0:
        raise AssertionError(f"ccvs {' '.join(map(str, argv))} exited with {code}")
    return out / "pipeline"


def generate_cli(
    pipeline: Path, out: Path, conditions: list[str], *, context: Path | None = None, frames: int = 5,
    samples: int = 2, seed: int = 0, guidance: float | None = None,
) -> int:  # fmt: skip
    """``ccvs generate`` with ``--cond`` flags; its exit code (0: the frames are in ``out``)."""
    argv = ["generate", "--model", pipeline, "--frames", frames, "--samples", samples, "--seed", seed]
    argv += ["--guidance", guidance] if guidance is not None else []
    argv += ["--out", out, "--device", "cpu"] + (["--context", context] if context is not None else [])
    for condition in conditions:
        argv += ["--cond", condition]
    return run_cli(argv)
