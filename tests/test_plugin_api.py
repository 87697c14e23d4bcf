"""The plugin API's promises: plugins use the public API alone, importing ccvs is cheap, plugins load
lazily and only where needed, a user's own module works from the CLI, and the conformance kit names
what a broken plugin breaks."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import ccvs_core.conditions as conditions_module
from ccvs_core import Condition, PluginError, Slot
from ccvs_core.conditions import ConditionRegistry
from ccvs_core.testing import ConditionConformance, run_checks, run_cli, tiny_world, train_pipeline
from tests.helpers import user_module

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"ccvs_core", "ccvs_core.testing"}


def plugin_files() -> list[Path]:
    files = [*ROOT.glob("plugins/*/**/*.py"), *ROOT.glob("examples/*/**/*.py")]
    return sorted(f for f in files if "egg-info" not in str(f) and "build" not in f.parts)


def ccvs_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a ccvs_core module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ccvs_core"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ccvs_core":
            found.append((node.lineno, node.module))
    return found


def test_plugins_and_examples_import_only_the_public_api():
    files = plugin_files()
    assert len({f.parts[len(ROOT.parts) + 1] for f in files}) == 7  # five built-ins and two examples
    offending = [
        f"{f.relative_to(ROOT)}:{line} imports {module}"
        for f in files
        for line, module in ccvs_imports(f)
        if module not in ALLOWED
    ]
    assert not offending, "plugins may import only ccvs_core and ccvs_core.testing:\n" + "\n".join(offending)


def python(code: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )  # fmt: skip


def test_importing_ccvs_core_loads_no_torch_training_or_cli():
    result = python("""
        import sys, ccvs_core
        heavy = [m for m in sys.modules if m == "torch" or m.startswith(("ccvs_core.training", "ccvs_core.cli"))]
        print(heavy)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_commands_that_need_no_plugin_import_none_and_only_the_invoked_plugin_command_loads():
    result = python("""
        import sys
        from ccvs_core.cli import build_parser
        def plugins():
            return "PLUGINS", sorted(m for m in sys.modules if m.startswith(("ccvs_plugin", "ccvs_speed", "ccvs_brightness")))
        for argv in (["data", "toyworld", "--out", "x"], ["data", "check", "x"], ["generate", "--model", "m", "--out", "o.gif"]):
            build_parser(argv).parse_args(argv)
        print(plugins())
        try:
            build_parser(["--version"]).parse_args(["--version"])
        except SystemExit:
            pass
        print(plugins())
        build_parser(["train", "audio-tokenizer", "--data", "d", "--out", "o"]).parse_args(["train", "audio-tokenizer", "--data", "d", "--out", "o"])
        print(plugins())
    """)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("('PLUGINS'")]
    nothing, after_version, after_command = lines
    assert nothing.endswith("[])") and after_version.endswith("[])")
    assert "ccvs_plugin_audio.command" in after_command and "ccvs_plugin_state" not in after_command


def test_plugin_commands_are_listed_by_name_and_honour_the_autoload_switch():
    listed = python("from ccvs_core.cli import main; main(['train', '--help'])")
    assert "audio-tokenizer" in listed.stdout and "position-estimator" in listed.stdout
    off = python(
        "from ccvs_core.cli import main; main(['train', '--help'])", {"CCVS_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert "audio-tokenizer" not in off.stdout and "transformer" in off.stdout


def test_a_users_own_module_is_usable_from_the_command_line(tmp_path):
    (tmp_path / "my_conditions.py").write_text(user_module("mine"))
    by_name = python(
        "from ccvs_core.cli import main; main(['--plugin', 'my_conditions', 'conditions'])",
        {"COLUMNS": "200"},
        tmp_path,
    )
    assert by_name.returncode == 0, by_name.stderr
    assert "mine" in by_name.stdout and "video" in by_name.stdout
    file = tmp_path / "my_conditions.py"
    by_env = python(
        "from ccvs_core.cli import main; main(['conditions'])", {"CCVS_PLUGINS": str(file), "COLUMNS": "200"}
    )
    assert "mine" in by_env.stdout
    missing = python(
        "import sys; from ccvs_core.cli import main; sys.exit(main(['--plugin', 'no_such_module', 'conditions']))"
    )
    assert missing.returncode == 2 and "--plugin no_such_module: no such module" in missing.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit(4)\n")
    refused = python(
        f"import sys; from ccvs_core.cli import main; sys.exit(main(['--plugin', {str(broken)!r}, 'conditions']))"
    )
    assert refused.returncode == 2 and "it called sys.exit(4)" in refused.stderr


def test_a_users_own_module_trains_and_generates(stage1, tmp_path):
    file = tmp_path / "user_cond.py"
    file.write_text(user_module("mine_cli"))
    data, autoencoder = stage1
    argv = ["--plugin", file, "train", "transformer", "--data", data, "--autoencoder", autoencoder]
    argv += ["--preset", "tiny", "--out", tmp_path / "run", "--steps", "1", "--cond", "mine_cli"]
    assert run_cli(argv) == 0
    out = tmp_path / "a.gif"
    argv = ["--plugin", file, "generate", "--model", tmp_path / "run" / "pipeline", "--frames", "3"]
    assert run_cli([*argv, "--out", out, "--cond", "mine_cli:2"]) == 0 and out.is_file()
    assert run_cli([*argv, "--out", tmp_path / "b.gif", "--cond", "mine_cli:7"]) == 2


def test_a_plugin_that_exits_at_import_is_reported_and_skipped(tmp_path, monkeypatch):
    (tmp_path / "exiting_mod.py").write_text("raise SystemExit(3)\n")
    dist = tmp_path / "exiting-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: exiting\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ccvs.conditions]\nexits = exiting_mod:Cls\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ConditionRegistry()
    failure = next(e for e in registry.entries() if e.name == "exits")
    assert not failure.ok and "it called sys.exit(3)" in failure.error
    assert "state" in registry.names()  # the others still load


# --- the conformance kit on a deliberately broken plugin ---------------------------------------------


class Broken(Condition):
    """Frame tokens that ignore where the timeline starts, a parse that accepts anything, and a NaN score."""

    def slots(self):
        return [Slot("frame", 1, 4)]

    def parse(self, value, options):
        return value

    def from_sample(self, clip):
        return np.arange(len(clip.frame_indices))

    def tokenize(self, raw, timeline):
        return {"tokens": (torch.arange(timeline.num_frames) % 4)[None, :, None]}

    def measures(self, samples, real, context_frames):
        return {"score": float("nan")}


class Misshapen(Broken):
    def tokenize(self, raw, timeline):
        return {"tokens": torch.zeros(1, timeline.num_frames, 2, dtype=torch.long)}


class BrokenSuite(ConditionConformance):
    condition = "broken_kit"
    bad_values = ["anything"]  # noqa: RUF012

    def cli_value(self, world, folder):
        return "x"


@pytest.fixture
def fresh_registry(monkeypatch):
    registry = ConditionRegistry()
    monkeypatch.setattr(conditions_module, "registry", registry)
    return registry


def test_the_kit_names_the_checks_a_broken_plugin_fails(fresh_registry, tmp_path_factory, tmp_path):
    fresh_registry.register("broken_kit")(Broken)
    failures = run_checks(BrokenSuite(), tiny_world(tmp_path_factory), tmp_path)
    assert set(failures) == {"alignment", "parse_errors", "measures"}
    for check, message in failures.items():
        assert message.startswith(f"{check}: ")
    assert "the window starting at frame 1 is not frames 1.." in failures["alignment"]
    assert "'anything' was accepted" in failures["parse_errors"]
    assert "'score' is nan" in failures["measures"]


def test_the_kit_stops_a_plugin_whose_tokens_do_not_fit_its_slots(fresh_registry, tmp_path_factory, tmp_path):
    fresh_registry.register("broken_kit")(Misshapen)
    failures = run_checks(BrokenSuite(), tiny_world(tmp_path_factory), tmp_path)
    assert "tokenize" in failures
    assert (
        failures["tokenize"].startswith("tokenize: ")
        and "LongTensor of shape (1, 6, 1)" in failures["tokenize"]
    )


def test_the_kit_refuses_an_unregistered_name(fresh_registry, tmp_path_factory, tmp_path):
    failures = run_checks(BrokenSuite(), tiny_world(tmp_path_factory), tmp_path)
    assert list(failures) == ["spec"] and "is not installed" in failures["spec"]


# --- the pipeline format ------------------------------------------------------------------------------


def test_a_pipeline_records_its_slots_and_refuses_other_versions(tmp_path_factory, tmp_path):
    from ccvs_core import CCVSPipeline, CheckpointError

    world = tiny_world(tmp_path_factory)
    folder = train_pipeline(world, tmp_path / "run", ["class"])
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 2
    record = config["conditions"]["class"]
    assert record["distribution"] == "ccvs-plugin-class" and record["slots"][0]["level"] == "video"
    CCVSPipeline.from_pretrained(folder)
    old = {**config, "format_version": 1}
    (folder / "config.json").write_text(json.dumps(old))
    with pytest.raises(CheckpointError, match=r"format version 1 .* reads version 2") as err:
        CCVSPipeline.from_pretrained(folder)
    assert "train it again with this ccvs-core" in str(err.value)
    tampered = json.loads(json.dumps(config))
    tampered["conditions"]["class"]["slots"][0]["level"] = "scene"
    (folder / "config.json").write_text(json.dumps(tampered))
    with pytest.raises(CheckpointError, match=r"field 'conditions\.class\.slots\[0\]'"):
        CCVSPipeline.from_pretrained(folder)
    config["conditions"]["nosuch"] = {**record}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PluginError, match=r"condition 'nosuch'.*made with ccvs-plugin-class") as err:
        CCVSPipeline.from_pretrained(folder)
    assert "pip install ccvs-plugin-class" in str(err.value)


def test_an_absent_condition_holds_its_absent_tokens():
    from ccvs_core import SequenceLayout

    layout = SequenceLayout((2, 2), 2, [("class", Slot("video", 1, 5)), ("state", Slot("frame", 2, 7))])
    frames = torch.zeros(1, 2, 2, 2, dtype=torch.long)
    tokens = {"class": {"tokens": torch.tensor([[3]])}}
    tokens["state"] = {"tokens": torch.ones(1, 2, 2, dtype=torch.long)}
    sequence = layout.drop(layout.join(frames, tokens), "state", torch.tensor([True]))
    assert (sequence[0, layout.positions("state.tokens")] == 7).all()  # one past its 7 values
    assert sequence[0, layout.positions("class.tokens")].tolist() == [3]


def test_layers_point_one_way():
    """models/ know nothing of the condition registry (slots live below both); training knows nothing of
    pipeline.py (what both need is below both)."""
    core = ROOT / "ccvs_core"
    rules = {"models": {"ccvs_core.conditions", "ccvs_core.plugins"}, "training": {"ccvs_core.pipeline"}}
    offending = [
        f"{f.relative_to(ROOT)}:{line} imports {module}"
        for folder, banned in rules.items()
        for f in sorted((core / folder).glob("*.py"))
        for line, module in ccvs_imports(f)
        if module in banned
    ]
    assert not offending, "\n".join(offending)
