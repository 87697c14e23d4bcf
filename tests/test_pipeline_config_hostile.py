"""A pipeline folder's config.json is read as strictly as a training config: every missing, ill-typed or
out-of-range field is a CheckpointError naming the file and the field, never a bare traceback."""

import copy
import json
import math
import shutil

import pytest

from ccvs_core import CCVSPipeline
from ccvs_core.errors import CheckpointError
from ccvs_core.shipped import DEFAULT_MODEL

SHIPPED = json.loads((DEFAULT_MODEL / "config.json").read_text())
DELETE = object()


def edited(path: str, value) -> dict:
    """The shipped config with the field at dotted ``path`` set to ``value`` (or deleted)."""
    data = copy.deepcopy(SHIPPED)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "pipeline"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(DEFAULT_MODEL / "model.safetensors")  # read only
    return folder


def refused(folder, data, field: str) -> CheckpointError:
    (folder / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError) as err:
        CCVSPipeline.from_pretrained(folder)
    message = str(err.value)
    assert str(folder / "config.json") in message and field in message, message
    assert "\n" not in message
    return err.value


@pytest.mark.parametrize(
    "field",
    [
        "frame_size",
        "fps",
        "condition_dropout",
        "autoencoder",
        "transformer",
        "conditions",
        "transformer.layers",  # its default, 8, is not the weights' 6
        "conditions.class.config",
        "conditions.class.slots",
        "conditions.class.distribution",
    ],
)
def test_a_missing_field_is_named(folder, field):
    refused(folder, edited(field, DELETE), field.split(".")[-1])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fps", "fast"),
        ("fps", None),
        ("fps", True),
        ("frame_size", "16x16"),
        ("frame_size", [32]),
        ("frame_size", [32, "a"]),
        ("frame_size", [33, 32]),
        ("condition_dropout", "half"),
        ("conditions", []),
        ("autoencoder", []),
        ("about", []),
        ("autoencoder.channels", "x"),
        ("autoencoder.codebook_size", "big"),
        ("autoencoder.beta", math.nan),
        ("transformer.layers", 2.5),
        ("transformer.heads", 5),
        ("transformer.attention", "magic"),
        ("conditions.class", []),
        ("conditions.class.config", []),
        ("conditions.class.config.classes", 5),
        ("conditions.class.slots", "x"),
        ("conditions.class.slots", [1]),
        ("conditions.class.distribution", 3),
        ("conditions.class.version", None),
    ],
)
def test_an_ill_typed_field_is_named(folder, field, value):
    refused(folder, edited(field, value), field.split(".")[-1])


@pytest.mark.parametrize("fps", [math.nan, 0, -1, math.inf, "1e400"])
def test_fps_must_be_positive_and_finite(folder, fps):
    data = edited("fps", 1234.5 if fps == "1e400" else fps)
    text = json.dumps(data).replace("1234.5", "1e400")  # JSON's 1e400 reads as infinity
    (folder / "config.json").write_text(text)
    # Infinity and 1e400 are refused by the JSON reader itself (json_text), the others by the field
    problem = (
        "is not valid JSON" if fps in (math.inf, "1e400") else "field 'fps' must be a positive finite number"
    )
    with pytest.raises(CheckpointError, match=rf"config\.json: {problem}"):
        CCVSPipeline.from_pretrained(folder)


def test_the_shipped_config_itself_loads(tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(DEFAULT_MODEL, folder)
    assert CCVSPipeline.from_pretrained(folder).fps == SHIPPED["fps"]
