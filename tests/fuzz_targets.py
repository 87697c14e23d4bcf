"""Fuzz targets shared by the default suite (tests/test_fuzz.py, a few seconds each) and the long run
(benchmarks/fuzz.py). A target makes a hostile case from a seed (a valid input, mutated) in a work
folder and feeds it to one reader. The only outcomes allowed are a return or the toolkit's own error
(CCVSError); anything else, a crash, a hang or a file left half-written is a failure. Targets whose
reader runs native code (pycocotools, PIL, PyAV, safetensors, model allocation) run in a forked
process with a time and memory limit."""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import struct
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core.errors import CCVSError

HOSTILE_VALUES = [
    None, True, -1, 0, 1, 2**31, 2**53 + 1, 10**40, -1e300, 1e300, 0.5, "", "x", "NaN", "²", [], {},
    [[]], [0] * 7, {"size": [10**6, 10**6], "counts": [10**12]}, {"size": [4, 4], "counts": "P1P1"},
    [[-1e300, 0, 1, 0, 1, 1]], [[0, 0, 1e9, 0, 1e9, 1e9]],
]  # fmt: skip
CASE_SECONDS = 20  # a case that runs longer hangs
CASE_MEMORY = 4 << 30  # bytes a forked case may add to what its process already has


@attrs.frozen
class Target:
    name: str
    run: Callable[[random.Random, Path], None]  # make a case in the folder, read it
    isolated: bool  # native code: fork, limit time and memory


# mutations -----------------------------------------------------------------------------------------


def mutate_json(value: Any, rng: random.Random, edits: int = 3) -> Any:
    """``value`` with a few subtrees replaced by hostile values, deep nesting or wrong types."""
    value = json.loads(json.dumps(value))
    for _ in range(edits):
        paths = list(_paths(value))
        path = rng.choice(paths)
        choice = rng.random()
        if choice < 0.6:
            new = json.loads(json.dumps(rng.choice(HOSTILE_VALUES)))  # a copy: edits must not reach the list
        elif choice < 0.8:
            new = _deep(rng.randint(60, 200))
        else:
            new = {"unknown": 1} if rng.random() < 0.5 else rng.choice([[1, 2], "text", 3.5])
        value = _replace(value, path, new)
    return value


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """``data`` truncated, with bytes flipped, or with a header field set to an extreme."""
    data = bytearray(data)
    choice = rng.random()
    if choice < 0.3 and data:
        del data[rng.randrange(len(data)) :]
    elif choice < 0.7:
        for _ in range(rng.randint(1, 16)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    else:  # a 32-bit field near the start (sizes and rates live there) set to an extreme
        at = rng.randrange(0, max(1, min(len(data) - 4, 64)))
        data[at : at + 4] = struct.pack("<I", rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 687_881_856]))
    return bytes(data)


def _paths(value: Any, path: tuple = ()):
    yield path
    if len(path) >= 12:  # not into the deep nesting an earlier edit made
        return
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:8]):
            yield from _paths(child, (*path, i))


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return value


def _deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _write_json(path: Path, value: Any, rng: random.Random) -> None:
    text = json.dumps(value)
    if rng.random() < 0.1:
        text = text[: rng.randrange(len(text) + 1)]  # truncated
    path.write_text(text)


# valid seeds -----------------------------------------------------------------------------------------


def coco_seed(size: int = 8) -> dict:
    images = [{"id": 10 + t, "width": size, "height": size, "frame_index": t} for t in range(2)]
    annotations = [
        {"id": 1, "image_id": 10, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
        {"id": 2, "image_id": 11, "category_id": 2, "segmentation": {"size": [size, size], "counts": [3, 5, size * size - 8]}},
    ]  # fmt: skip
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}],
    }


def dataset_seed(root: Path) -> Path:
    from tests.helpers import write_video_folder

    return write_video_folder(root, "a", num_frames=3)


# targets -------------------------------------------------------------------------------------------------


def _json_text(rng: random.Random, folder: Path) -> None:
    from ccvs_core.json_text import parse_json

    text = json.dumps(mutate_json({"fps": 10, "positions": [[1, 2]], "nested": {"a": [1.5]}}, rng))
    if rng.random() < 0.3:
        text = rng.choice(["NaN", "1e400", "9" * 5000, "[" * 5000]) + text
    with contextlib.suppress(ValueError):  # parse_json's documented refusal
        parse_json(text)


def _training_config(rng: random.Random, folder: Path) -> None:
    from ccvs_core.config import AutoencoderConfig, TransformerConfig

    cls = rng.choice([AutoencoderConfig, TransformerConfig])
    cls.from_dict(mutate_json(cls().to_dict(), rng))


def _trajectory(rng: random.Random, folder: Path) -> None:
    from ccvs_core import get_condition

    path = folder / "traj.json"
    _write_json(path, mutate_json({"fps": 10, "positions": [[1, 2], [3, 4]], "size": [32, 32]}, rng), rng)
    condition = get_condition("state")()
    condition.parse(str(path), condition.options_class())


def _class_name(rng: random.Random, folder: Path) -> None:
    from ccvs_core import get_condition

    cls = get_condition("class")
    condition = cls(cls.config_class(classes=("circle", "line")))
    text = "".join(rng.choice("0123456789²①٣ a-_,=:\x00") for _ in range(rng.randint(0, 12)))
    condition.parse(rng.choice([text, "9" * 5000]), condition.options_class())


def _coco_layout(rng: random.Random, folder: Path) -> None:
    from ccvs_core import get_condition

    path = folder / "layout.json"
    _write_json(path, mutate_json(coco_seed(), rng), rng)
    cls = get_condition("layout")
    condition = cls(cls.config_class(classes=("car", "road"), grid=(2, 2)))
    condition.parse(str(path), condition.options_class())


def _dataset_check(rng: random.Random, folder: Path) -> None:
    from ccvs_core.data.check import check_dataset

    video = dataset_seed(folder / "data")
    name = rng.choice(["meta.json", "state.json", "layout.json", "audio.wav", "frames/000001.png"])
    path = video / name
    if name.endswith(".json"):
        _write_json(path, mutate_json(json.loads(path.read_text()), rng), rng)
    else:
        path.write_bytes(mutate_bytes(path.read_bytes(), rng))
    report = check_dataset(folder / "data", progress=False)
    assert all(isinstance(p, str) for p in report.problems)


def _image(rng: random.Random, folder: Path) -> None:
    from ccvs_core.media import read_frames, write_image, write_video

    frames = np.random.default_rng(rng.randrange(2**32)).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    kind = rng.choice([".png", ".gif", ".mp4"])
    path = folder / f"input{kind}"
    write_image(path, frames[0]) if kind == ".png" else write_video(frames, path, 5)
    path.write_bytes(mutate_bytes(path.read_bytes(), rng))
    read_frames(path)


def _sound(rng: random.Random, folder: Path) -> None:
    from ccvs_core import get_condition
    from ccvs_core.data.audio import write_wav

    path = folder / "sound.wav"
    write_wav(path, np.sin(np.arange(4000) / 5.0).astype(np.float32)[None], 8000)
    path.write_bytes(mutate_bytes(path.read_bytes(), rng))
    condition = get_condition("audio")()
    condition.parse(str(path), condition.options_class())


def _pipeline(rng: random.Random, folder: Path) -> None:
    from ccvs_core.pipeline import CCVSPipeline
    from ccvs_core.shipped import default_model

    pipeline = folder / "pipeline"
    shutil.copytree(default_model(), pipeline)
    if rng.random() < 0.7:
        config = json.loads((pipeline / "config.json").read_text())
        _write_json(pipeline / "config.json", mutate_json(config, rng, edits=rng.randint(1, 3)), rng)
    else:
        weights = pipeline / "model.safetensors"
        data = weights.read_bytes()
        weights.write_bytes(mutate_bytes(data[:4096], rng) + data[4096:])  # the header lives there
    CCVSPipeline.from_pretrained(pipeline)


TARGETS = [
    Target("json text", _json_text, isolated=False),
    Target("training config", _training_config, isolated=False),
    Target("trajectory (state parse)", _trajectory, isolated=False),
    Target("class name (class parse)", _class_name, isolated=False),
    Target("COCO layout (layout parse)", _coco_layout, isolated=True),
    Target("dataset check", _dataset_check, isolated=True),
    Target("frames (media readers)", _image, isolated=True),
    Target("sound (audio parse)", _sound, isolated=True),
    Target("pipeline loader", _pipeline, isolated=True),
]


# running a case --------------------------------------------------------------------------------------------


def run_case(target: Target, seed: int, folder: Path) -> str | None:
    """None when case ``seed`` of ``target`` returned or raised a CCVSError; else what went wrong."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _isolated(target, seed, folder) if target.isolated else _in_process(target, seed, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _in_process(target: Target, seed: int, folder: Path) -> str | None:
    try:
        target.run(random.Random(seed), folder)
    except CCVSError:
        return None
    except Exception:
        return traceback.format_exc(limit=-3)
    return _leftovers(folder)


def _isolated(target: Target, seed: int, folder: Path) -> str | None:
    _import_readers()  # before the fork: under the child's memory limit torch's libraries cannot map
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the case, with limits; its verdict goes back through the pipe
        os.close(read)
        torch.set_num_threads(1)  # the parent's OpenMP pool does not survive a fork: using it hangs
        limit = _address_space() + CASE_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.alarm(CASE_SECONDS)
        verdict = _in_process(target, seed, folder) or ""
        os.write(write, verdict.encode()[:60000])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        verdict = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by {'the time limit' if sig == signal.SIGALRM else signal.Signals(sig).name}"
    return verdict or None


def _import_readers() -> None:
    import av  # noqa: F401
    import torch  # noqa: F401

    import ccvs_core.data.check
    import ccvs_core.pipeline  # noqa: F401
    from ccvs_core import list_conditions

    list_conditions()  # the plugins


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _leftovers(folder: Path) -> str | None:
    temporary = [p.name for p in folder.rglob(".*.tmp-*")]
    return f"left temporary files: {temporary}" if temporary else None
