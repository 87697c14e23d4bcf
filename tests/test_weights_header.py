"""Sizes, dtypes and values of the weights are checked before anything is built for real: a config.json
that disagrees with its safetensors header (10**9 codes, 10**6 layers) is refused in a moment without
allocating, a tensor of the wrong dtype or with NaN is refused naming it."""

import json
import resource
import shutil
import struct
import time

import pytest
import torch

from ccvs_core import CCVSPipeline
from ccvs_core.config import AutoencoderConfig, preset
from ccvs_core.errors import CheckpointError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.io import export_autoencoder, load_autoencoder
from ccvs_core.shipped import DEFAULT_MODEL
from ccvs_core.weights import load_tensors, save_tensors


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused_cheaply(load, match: str | None = None) -> str:
    """``load()`` raises a CheckpointError (matching ``match``) within 3 s and 200 MiB."""
    start, peak = time.perf_counter(), peak_mib()
    with pytest.raises(CheckpointError, match=match) as err:
        load()
    assert time.perf_counter() - start < 3 and peak_mib() - peak < 200
    assert "\n" not in str(err.value)
    return str(err.value)


def relabel(path, key: str, dtype: str) -> None:
    """Rewrite the safetensors header of ``path`` so that tensor ``key`` claims ``dtype`` (same bytes)."""
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + size])
    header[key]["dtype"] = dtype
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + size :])


@pytest.fixture
def pipeline(tmp_path):
    folder = tmp_path / "pipeline"
    shutil.copytree(DEFAULT_MODEL, folder)
    return folder


def set_field(folder, section: str, field: str, value) -> None:
    data = json.loads((folder / "config.json").read_text())
    data[section][field] = value
    (folder / "config.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("autoencoder", "codebook_size", 10**9),
        ("autoencoder", "embed_dim", 10**7),
        ("transformer", "layers", 10**6),
        ("transformer", "width", 192 * 10**5),
        ("transformer", "window", 10**7),
        ("transformer", "max_gap", 10**9),
    ],
)
def test_a_pipeline_size_that_disagrees_with_the_weights_is_refused_at_once(pipeline, section, field, value):
    CCVSPipeline.from_pretrained(pipeline)  # imports and caches warm, so the timing is the check's
    set_field(pipeline, section, field, value)
    message = refused_cheaply(lambda: CCVSPipeline.from_pretrained(pipeline))
    assert f"'{section}.{field}'" in message and "config.json" in message, message


def test_huge_frames_are_refused_before_the_sequence_is_laid_out(pipeline):
    data = json.loads((pipeline / "config.json").read_text())
    data["frame_size"] = [8 * 10**8, 8 * 10**8]
    (pipeline / "config.json").write_text(json.dumps(data))
    message = refused_cheaply(lambda: CCVSPipeline.from_pretrained(pipeline), r"field 'frame_size'")
    assert "config.json" in message


def test_a_tensor_of_the_wrong_dtype_is_refused_naming_it(pipeline):
    weights = pipeline / "model.safetensors"
    relabel(weights, "transformer.head.weight", "I16")  # float16 bytes claiming to be int16
    with pytest.raises(CheckpointError, match=r"tensor 'transformer\.head\.weight' is stored as I16"):
        CCVSPipeline.from_pretrained(pipeline)
    tensors = load_tensors(DEFAULT_MODEL / "model.safetensors")
    tensors["autoencoder.quantizer.last_used"] = tensors["autoencoder.quantizer.last_used"].float()
    save_tensors(weights, tensors)
    with pytest.raises(CheckpointError, match=r"'autoencoder\.quantizer\.last_used' is stored as F32.* I64"):
        CCVSPipeline.from_pretrained(pipeline)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(pipeline, bad):
    tensors = load_tensors(DEFAULT_MODEL / "model.safetensors")
    tensors["transformer.blocks.2.mlp.0.weight"][0, 0] = bad
    save_tensors(pipeline / "model.safetensors", tensors)
    with pytest.raises(CheckpointError, match=r"'transformer\.blocks\.2\.mlp\.0\.weight' holds NaN or inf"):
        CCVSPipeline.from_pretrained(pipeline)


# an exported autoencoder (stage 1's folder) by the same rules


@pytest.fixture
def autoencoder(tmp_path):
    torch.manual_seed(0)
    return export_autoencoder(FlowAutoencoder(preset(AutoencoderConfig, "tiny")), tmp_path / "ae")


def test_an_autoencoder_folder_is_checked_like_a_pipeline(autoencoder):
    load_autoencoder(autoencoder)
    set_field(autoencoder, "autoencoder", "codebook_size", 10**9)
    message = refused_cheaply(lambda: load_autoencoder(autoencoder), r"'autoencoder\.codebook_size'")
    assert "config.json" in message and "'autoencoder.quantizer.codebook'" in message
    set_field(autoencoder, "autoencoder", "codebook_size", "many")
    with pytest.raises(CheckpointError, match=r"field 'autoencoder\.codebook_size' \(.*config\.json\)"):
        load_autoencoder(autoencoder)
    set_field(autoencoder, "autoencoder", "codebook_size", 32)
    relabel(autoencoder / "model.safetensors", "autoencoder.quantizer.codebook", "I32")
    with pytest.raises(CheckpointError, match=r"'autoencoder\.quantizer\.codebook' is stored as I32"):
        load_autoencoder(autoencoder)
    (autoencoder / "config.json").write_text("[]")
    with pytest.raises(CheckpointError, match=r"config\.json: has no 'autoencoder' config"):
        load_autoencoder(autoencoder)
