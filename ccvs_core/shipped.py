"""What ships inside ccvs-core: the default pipeline (``ccvs generate`` without ``--model``) and the
sample inputs that ``ccvs examples --out DIR`` writes out. Both are made by
``benchmarks/default_model.py`` (its ``--ship`` stage)."""

from __future__ import annotations

from pathlib import Path

from ccvs_core.errors import InputError

PACKAGE = Path(__file__).resolve().parent
DEFAULT_MODEL = PACKAGE / "default_model"  # a pipeline folder: config.json + model.safetensors
SAMPLES = PACKAGE / "samples"  # drums.wav, trajectory.json, ... (README.md there says what each is)


def default_model() -> Path:
    """The shipped pipeline's folder; an InputError when this installation has none."""
    if not (DEFAULT_MODEL / "config.json").is_file():
        raise InputError(
            "--model",
            f"not given, and this installation of ccvs-core has no default model ({DEFAULT_MODEL})",
            "give a pipeline folder (OUT/pipeline of ccvs train transformer), or build the default one "
            "with python benchmarks/default_model.py --work W --ship",
        )
    return DEFAULT_MODEL


def sample_files() -> list[Path]:
    """The shipped sample inputs, by name."""
    return sorted(p for p in SAMPLES.iterdir() if p.is_file() and not p.name.startswith((".", "_")))


def sample_input(name: str) -> Path:
    """One shipped sample input by file name (``drums.wav``, ``context.png``, ...), as ``ccvs examples``
    writes them out; an InputError naming the ones there are for any other name."""
    path = SAMPLES / name
    if path not in sample_files():
        known = ", ".join(p.name for p in sample_files())
        raise InputError("sample input", f"{name!r} does not ship with ccvs-core (there are: {known})")
    return path
