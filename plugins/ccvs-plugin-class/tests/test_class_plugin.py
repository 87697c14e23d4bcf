"""ccvs-plugin-class: discovery, the class list learnt in training, parsing, tokens, the CLI end to end."""

import numpy as np
import pytest
import torch
from ccvs_plugin_class import ClassCondition, ClassConfig

from ccvs_core import CCVSPipeline, InputError, Timeline, get_condition, list_conditions, read_frames
from ccvs_core.testing import ConditionConformance, generate_cli, tiny_world, train_pipeline


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "class")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-class"
    assert entry.source == "entry point"
    assert get_condition("class") is ClassCondition


class TestClassConformance(ConditionConformance):
    condition = "class"
    bad_values = ["jump", "99"]  # noqa: RUF012

    def cli_value(self, world, folder):
        return "0"


def condition(*classes):
    return ClassCondition(ClassConfig(classes=classes))


def test_parse_takes_a_name_or_an_index_and_lists_the_known_ones():
    c = condition("circle", "line", "still")
    options = c.options_class()
    assert c.parse("line", options) == "line"
    assert c.parse("2", options) == "still"
    with pytest.raises(InputError, match=r"unknown class; the known ones are 0: circle, 1: line, 2: still"):
        c.parse("jump", options)
    with pytest.raises(InputError, match="index out of range: there are 3 classes"):
        c.parse("3", options)
    for name in ("²", "①", "1" * 5000):  # str.isdigit() and int() disagree on these: an error, not a crash
        with pytest.raises(InputError, match="unknown class"):
            c.parse(name, options)
    with pytest.raises(InputError, match="no class list yet"):
        condition().parse("walk", options)


def test_one_token_per_video():
    c = condition("circle", "line")
    assert c.slots()[0].vocab_size == 2 and c.slots()[0].level == "video" and c.slots()[0].additive
    assert torch.equal(c.tokenize("line", Timeline(7, 10.0))["tokens"], torch.tensor([[1]]))


def test_ccvs_trains_and_generates_with_a_class(world, tmp_path, capsys):
    pipeline_dir = train_pipeline(world, tmp_path / "run", ["class"])
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    classes = pipeline.conditions["class"].config.classes
    assert set(classes) <= {"circle", "zigzag", "line", "still"} and list(classes) == sorted(classes)
    context = world.first_frame("test")
    assert generate_cli(pipeline_dir, tmp_path / "a.gif", [f"class:{classes[0]}"], context=context) == 0
    assert read_frames(tmp_path / "a.gif").shape[0] == 5
    # zero context frames: every frame sampled from the class alone (Fig. D6)
    assert generate_cli(pipeline_dir, tmp_path / "b.gif", [f"class:{classes[-1]}"]) == 0
    videos = pipeline.generate(None, {"class": classes[0]}, num_frames=3, num_samples=2, seed=1)
    assert videos.shape == (2, 3, 16, 16, 3)
    assert not np.array_equal(videos[0], videos[1])
    capsys.readouterr()
    assert generate_cli(pipeline_dir, tmp_path / "c.gif", ["class:jump"]) == 2
    assert "unknown class; the known ones are" in capsys.readouterr().err
    assert generate_cli(pipeline_dir, tmp_path / "d.gif", []) == 2
    assert "this pipeline needs it" in capsys.readouterr().err
    assert not (tmp_path / "c.gif").exists() and not (tmp_path / "d.gif").exists()
