"""The condition registry: decorator and entry-point registration, isolation of broken plugins, the CLI table."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import ccvs_core.conditions as conditions_module
from ccvs_core import Condition, InputError, PluginError, Slot, Timeline
from ccvs_core.cli import main
from ccvs_core.conditions import ConditionRegistry
from ccvs_core.console import out
from ccvs_core.slots import check_tokens

FAKE_MODULE = """
from ccvs_core import Condition, Slot, register_condition

class Base(Condition):
    def parse(self, value, options):
        return value

    def from_sample(self, clip):
        return None

    def tokenize(self, raw, timeline):
        return {}

class FakeCondition(Base):
    def slots(self):
        return [Slot("frame", 3, 7)]

class InvalidSlots(Base):
    def slots(self):
        return [Slot("sometimes", 0, 7)]

class StateImpostor(Base):
    def slots(self):
        return [Slot("frame", 1, 2)]

class NotACondition:
    pass
"""

ENTRY_POINTS = """
[ccvs.conditions]
fake = fakecond_mod:FakeCondition
broken = broken_mod:Broken
invalid = fakecond_mod:InvalidSlots
state = fakecond_mod:StateImpostor
notone = fakecond_mod:NotACondition
"""


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """A real installed distribution 'fakecond 1.2.3' (a dist-info folder on sys.path) with entry points:
    one good condition, one whose module raises on import, one with invalid slots, one claiming the
    name of the installed 'state' plugin, and one that is not a Condition."""
    (tmp_path / "fakecond_mod.py").write_text(FAKE_MODULE)
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    dist = tmp_path / "fakecond-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakecond\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    (dist / "top_level.txt").write_text("fakecond_mod\nbroken_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def registry(monkeypatch):
    """A fresh process registry, so registrations made by a test do not leak into others."""
    fresh = ConditionRegistry()
    monkeypatch.setattr(conditions_module, "registry", fresh)
    return fresh


def make_condition(slots, **methods):
    """A condition class with these slots; the other required methods do nothing (or are ``methods``)."""
    body = {
        "slots": lambda self: slots,
        "parse": lambda self, value, options: value,
        "from_sample": lambda self, clip: None,
        "tokenize": lambda self, raw, timeline: {},
        **methods,
    }
    return type("Local", (Condition,), body)


def test_decorator_and_entry_point_both_appear_in_ccvs_conditions(
    fake_distribution, registry, capsys, monkeypatch
):
    monkeypatch.setattr(out, "width", 300)

    registry.register("decorated")(make_condition([Slot("video", 2, 9)]))

    assert main(["conditions"]) == 0
    table = capsys.readouterr().out
    lines = [line for line in table.splitlines() if line.count("│") > 5]
    rows = {line.split("│")[1].strip(): line for line in lines}
    assert "decorated" in rows and "tokens: 2 x 9 video" in rows["decorated"]
    assert "fake" in rows and "fakecond" in rows["fake"] and "1.2.3" in rows["fake"] and "ok" in rows["fake"]
    assert "tokens: 3 x 7 frame" in rows["fake"]
    assert "broken" in rows and "skipped" in rows["broken"] and "boom at import" in rows["broken"]
    assert "invalid" in rows and "skipped" in rows["invalid"] and "level 'sometimes'" in rows["invalid"]
    assert "notone" in rows and "not a subclass" in rows["notone"]
    # the installed plugins are listed too, through the same entry-point path
    for name in ("state", "audio", "layout", "endframe", "class"):
        assert any(line.split("│")[1].strip() == name and "ccvs-plugin-" in line for line in lines)
    assert "target (from frame tokens)" in rows["endframe"] and "(predicted)" in rows["layout"]
    assert "pad" in rows["audio"]  # its generation options


def test_broken_plugins_are_reported_and_skipped(fake_distribution, registry, caplog):
    with caplog.at_level(logging.WARNING, logger="ccvs_core.conditions"):
        entries = {(e.name, e.package): e for e in registry.entries()}
    assert entries[("fake", "fakecond")].ok
    broken = entries[("broken", "fakecond")]
    assert not broken.ok and "RuntimeError: boom at import" in broken.error
    assert "it must be one of ('video', 'frame', 'target')" in entries[("invalid", "fakecond")].error
    assert (
        "fake" in registry.names() and "broken" not in registry.names() and "invalid" not in registry.names()
    )
    assert "broken" in caplog.text and "skipped" in caplog.text
    with pytest.raises(PluginError, match=r"condition 'broken': fakecond 1.2.3 failed to load.*boom"):
        registry.get("broken")


def test_a_taken_name_is_reported_naming_both(fake_distribution, registry):
    claims = [e for e in registry.entries() if e.name == "state"]
    assert sorted(e.package for e in claims) == ["ccvs-plugin-state", "fakecond"]
    for claim in claims:  # neither keeps the name: which sorts first says nothing of which is meant
        assert not claim.ok and "claimed by both ccvs-plugin-state and fakecond" in claim.error
    with pytest.raises(PluginError, match="claimed by both ccvs-plugin-state and fakecond"):
        registry.get("state")


def test_decorator_refuses_invalid_classes_with_a_clear_error(registry):
    with pytest.raises(PluginError, match="condition 'bad': slot 'tokens' has length=0"):
        registry.register("bad")(make_condition([Slot("frame", 0, 3)]))
    with pytest.raises(PluginError, match="only frame-level slots can be predicted"):
        registry.register("bad")(make_condition([Slot("video", 1, 3, predicted=True)]))
    with pytest.raises(PluginError, match="only video and frame slots can be added"):
        registry.register("bad")(make_condition([Slot("target", 1, 3, additive=True)]))
    with pytest.raises(PluginError, match="declared twice"):
        registry.register("bad")(make_condition([Slot("frame", 1, 3), Slot("video", 1, 3)]))
    with pytest.raises(PluginError, match="init='z'; it must be one of"):
        registry.register("bad")(make_condition([Slot("frame", 1, 3, init="z")]))
    with pytest.raises(PluginError, match="has a predicted slot, so it must implement decode"):
        registry.register("bad")(make_condition([Slot("frame", 1, 3, predicted=True)]))
    with pytest.raises(PluginError, match=r"does not implement parse\(\), tokenize\(\)"):
        registry.register("bad")(
            type(
                "Half",
                (Condition,),
                {"slots": lambda self: [Slot("frame", 1, 3)], "from_sample": lambda self, c: None},
            )
        )
    with pytest.raises(PluginError, match=r"uses video_tokens, a hook of plugin API 0\.1"):
        registry.register("bad")(make_condition([Slot("video", 1, 3)], video_tokens=lambda self, c, f: {}))
    with pytest.raises(PluginError, match="non-empty list"):
        registry.register("bad")(make_condition([]))
    with pytest.raises(PluginError, match="lowercase"):
        registry.register("Bad:Name")(make_condition([Slot("frame", 1, 3)]))
    registry.register("good")(make_condition([Slot("frame", 1, 3)]))
    with pytest.raises(PluginError, match="claimed by both"):
        registry.register("good")(make_condition([Slot("frame", 1, 3)]))
    assert registry.names().count("good") == 1 and "bad" not in registry.names()


def test_unknown_name_lists_the_installed_ones(registry):
    with pytest.raises(PluginError, match=r"'nosuch': is not installed \(installed: .*audio.*state"):
        registry.get("nosuch")


def test_autoload_can_be_switched_off(fake_distribution, registry, monkeypatch):
    monkeypatch.setenv("CCVS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert registry.entries() == []


def test_ccvs_conditions_survives_broken_plugins_as_a_real_process(fake_distribution):
    env = dict(os.environ, PYTHONPATH=str(fake_distribution), COLUMNS="250")
    result = subprocess.run(
        [sys.executable, "-m", "ccvs_core.cli", "conditions"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "fakecond" in result.stdout and "boom at import" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_tokens_enforces_the_declared_slots():
    slots = [Slot("frame", 2, 5), Slot("video", 1, 3, name="label"), Slot("target", 2, 4, name="end")]
    good = {
        "tokens": torch.zeros(2, 4, 2, dtype=torch.long),
        "label": torch.ones(2, 1, dtype=torch.long),
        "end": torch.ones(2, 2, dtype=torch.long),
    }
    assert check_tokens("c", slots, good, batch=2, num_frames=4) == good
    with pytest.raises(PluginError, match="must return the slots"):
        check_tokens("c", slots, {"tokens": good["tokens"]}, batch=2, num_frames=4)
    with pytest.raises(PluginError, match=r"slot 'tokens' must be a LongTensor of shape \(2, 4, 2\)"):
        check_tokens(
            "c", slots, {**good, "tokens": torch.zeros(2, 3, 2, dtype=torch.long)}, batch=2, num_frames=4
        )
    with pytest.raises(PluginError, match=r"outside \[0, 3\)"):
        check_tokens("c", slots, {**good, "label": torch.full((2, 1), 3)}, batch=2, num_frames=4)


def test_timeline_and_the_context_a_condition_needs():
    timeline = Timeline(num_frames=3, fps=10.0, start_frame=2)
    assert timeline.frame_times().tolist() == pytest.approx([0.2, 0.3, 0.4])
    with pytest.raises(InputError, match="timeline"):
        Timeline(num_frames=0, fps=10.0)
    condition = make_condition([Slot("frame", 1, 2)])()
    with pytest.raises(PluginError, match="before a pipeline gave it its context"):
        condition.context  # noqa: B018
