"""Weights as safetensors files (and their JSON companions): atomic writes, and loads that refuse
anything missing, malformed or mismatched with a CheckpointError naming the file.

A file's header (names, dtypes, shapes) can be checked against a model built on the meta device
(``check_header``) before any real tensor is allocated: a config that disagrees with its weights (a
codebook of 10**9 entries) is refused without allocating, naming the config field where one explains it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch.overrides import TorchFunctionMode

from ccvs_core.atomic import atomic_path
from ccvs_core.config_base import Config
from ccvs_core.errors import CheckpointError, ConfigError
from ccvs_core.json_text import parse_json

FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}  # safetensors' names
DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}  # fmt: skip


@attrs.frozen
class StoredTensor:
    """What a safetensors header says of one tensor."""

    dtype: str  # safetensors' name: F32, I64, BOOL, ...
    shape: tuple[int, ...]


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file atomically (tensors are copied to contiguous CPU memory)."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing, truncated or malformed file is a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            path, f"is not a readable safetensors file (truncated or corrupt?): {err}"
        ) from None


def read_header(path: str | os.PathLike) -> dict[str, StoredTensor]:
    """The tensors a safetensors file holds, from its header alone (nothing is loaded); a missing or
    malformed file is a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            slices = {key: handle.get_slice(key) for key in handle.keys()}  # noqa: SIM118
            return {k: StoredTensor(s.get_dtype(), tuple(s.get_shape())) for k, s in slices.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            path, f"is not a readable safetensors file (truncated or corrupt?): {err}"
        ) from None


def check_header(
    expected: dict[str, torch.Tensor],
    header: dict[str, StoredTensor],
    source: str | os.PathLike,
    prefix: str = "",
    explain: Callable[[tuple[int, ...], tuple[int, ...]], str | None] | None = None,
) -> None:
    """Check a header's ``prefix + key`` tensors against ``expected`` (a state dict, typically of a model
    built on the meta device): names, shapes and dtypes. ``explain(stored, expected)`` may name the
    config field that made a shape disagree; its sentence then leads the error."""
    stored = {k[len(prefix) :]: v for k, v in header.items() if k.startswith(prefix)}
    _check_keys(set(expected), set(stored), source, prefix)
    for key, value in expected.items():
        have = stored[key]
        if have.shape != tuple(value.shape) and explain is not None:
            reason = explain(have.shape, tuple(value.shape))
            if reason:
                raise CheckpointError(
                    source,
                    f"tensor '{prefix}{key}' has shape {have.shape}, but {reason} makes it {tuple(value.shape)}",
                )
        problem = _mismatch(have.dtype, have.shape, value)
        if problem:
            raise CheckpointError(source, f"tensor '{prefix}{key}' {problem}")


def check_built(
    build: Callable[[], nn.Module],
    header: dict[str, StoredTensor],
    source: str | os.PathLike,
    prefix: str = "",
    explain: Callable[[tuple[int, ...], tuple[int, ...]], str | None] | None = None,
) -> None:
    """``check_header`` against the module ``build()`` makes, built on the meta device: shapes and dtypes
    only, so a config of 10**9 codes or a huge width costs nothing here."""
    with torch.device("meta"), _SkipMetaInit():
        expected = build().state_dict()
    check_header(expected, header, source, prefix, explain)


class _SkipMetaInit(TorchFunctionMode):
    """Leaves meta tensors uninitialised: ``torch.nn.init`` and random fills on the meta device run
    torch's Python reference kernels, which import torch._dynamo and sympy (over 1 s of every load) to
    fill nothing."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.uniform_, torch.Tensor.normal_) or (
            getattr(func, "__module__", None) == "torch.nn.init"
        ):
            tensor = args[0] if args else kwargs.get("tensor")
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


def load_module(
    module: nn.Module, tensors: dict[str, torch.Tensor], source: str | os.PathLike, prefix: str = ""
) -> None:
    """Load ``tensors[prefix + key]`` into ``module`` strictly: every missing, unexpected, misshapen,
    mistyped (an integer tensor for a float parameter) or non-finite tensor is a CheckpointError that
    names the file and the key."""
    own = module.state_dict()
    given = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    _check_keys(set(own), set(given), source, prefix)
    for key, value in given.items():
        problem = _mismatch(DTYPE_NAMES.get(value.dtype, str(value.dtype)), tuple(value.shape), own[key])
        if problem is None and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            problem = "holds NaN or infinite values"
        if problem:
            raise CheckpointError(source, f"tensor '{prefix}{key}' {problem}")
    module.load_state_dict(given)


def _check_keys(own: set[str], given: set[str], source: str | os.PathLike, prefix: str) -> None:
    missing, unexpected = sorted(own - given), sorted(given - own)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(prefix, missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(prefix, unexpected)}")
        raise CheckpointError(source, "does not match the model: " + "; ".join(parts))


def _mismatch(dtype: str, shape: tuple[int, ...], expected: torch.Tensor) -> str | None:
    """What is wrong with a stored tensor of ``dtype`` and ``shape`` where ``expected`` goes, or None.
    Floating weights may be stored at any float precision (``save_pretrained(half=True)``)."""
    if shape != tuple(expected.shape):
        return f"has shape {shape}, the model expects {tuple(expected.shape)}"
    want = DTYPE_NAMES.get(expected.dtype, str(expected.dtype))
    if expected.is_floating_point() and dtype not in FLOAT_DTYPES:
        return f"is stored as {dtype}, the model expects floating-point values ({want})"
    if not expected.is_floating_point() and dtype != want:
        return f"is stored as {dtype}, the model expects {want}"
    return None


def _few(prefix: str, keys: list[str]) -> str:
    shown = ", ".join(f"'{prefix}{k}'" for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def load_json(path: str | os.PathLike, missing: str = "file not found") -> Any:
    """A JSON file of a checkpoint or exported model; ``missing`` says what its absence means."""
    path = Path(path)
    try:
        return parse_json(path.read_text(encoding="utf-8"), allow_nan=True)
    except FileNotFoundError:
        raise CheckpointError(path, missing) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(path, f"is not valid JSON ({err})") from None


def checkpoint_config(cls: type[Config], data: Any, path: str | os.PathLike, prefix: str) -> Config:
    """``cls.from_dict`` of a section of a checkpoint's ``config.json``: a bad field is a CheckpointError
    naming the file and the field."""
    try:
        return cls.from_dict(data, source=str(path), prefix=prefix)
    except ConfigError as err:
        raise CheckpointError(err.subject, err.problem, err.hint) from None


def field_explainer(
    config: dict[str, Any], path: str | os.PathLike
) -> Callable[[tuple[int, ...], tuple[int, ...]], str | None]:
    """For ``check_header``: the one integer field of ``config`` (a config.json's sections) whose value is
    a size (or one less: a row for "none") that a misshapen tensor's expected shape has and its stored
    shape lacks, if exactly one is."""
    leaves = dict(_int_leaves(config, ""))

    def explain(stored: tuple[int, ...], expected: tuple[int, ...]) -> str | None:
        sizes = set(expected) - set(stored)
        fields = [name for name, value in leaves.items() if sizes & {value, value + 1}]
        if len(fields) != 1:
            return None
        return f"{path}'s field '{fields[0]}' = {leaves[fields[0]]}"

    return explain


def _int_leaves(value: Any, name: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _int_leaves(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _int_leaves(item, f"{name}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool):
        yield name, value


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (what a cache or a protocol records of the weights it used)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
