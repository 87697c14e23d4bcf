"""A plugin's failures stay its own: one that fails at import in any way is named and skipped (memory
errors and Ctrl-C still stop ccvs), a name two distributions claim is used from neither, a pipeline takes
each condition only from the distribution it recorded, and an exception from a plugin's hook is a
PluginError naming the plugin and the hook."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import ccvs_core.conditions as conditions_module
from ccvs_core import CCVSPipeline, Condition, InputError, PluginError, Slot, Timeline
from ccvs_core.condition_values import read_condition
from ccvs_core.conditions import ConditionRegistry
from ccvs_core.shipped import DEFAULT_MODEL

GOOD = textwrap.dedent("""
    from ccvs_core import Condition, Slot
    class Good(Condition):
        def slots(self): return [Slot("frame", 1, 3)]
        def parse(self, value, options): return value
        def from_sample(self, clip): return None
        def tokenize(self, raw, timeline): return {}
""")


def install(root, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """A distribution ``dist`` 0.1 on sys.path (a dist-info folder) with these ccvs.conditions entry
    points and modules."""
    for name, text in modules.items():
        (root / f"{name}.py").write_text(text)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ccvs.conditions]\n{lines}")
    (info / "top_level.txt").write_text("".join(f"{m}\n" for m in modules))


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ConditionRegistry()
    monkeypatch.setattr(conditions_module, "registry", registry)
    return registry


# (a) failures at import ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("import sys; sys.exit(5)", "it called sys.exit(5)"),
        ("raise SystemExit", "it called sys.exit(None)"),
        ("raise ValueError('bad plugin')", "ValueError: bad plugin"),
        ("import no_such_dependency_xyz", "No module named 'no_such_dependency_xyz'"),
        ("class C:\n    def __init_subclass__(cls): pass\nraise LookupError('x')", "LookupError: x"),
    ],
)
def test_a_plugin_failing_at_import_is_named_and_skipped(fresh, tmp_path, body, said):
    install(tmp_path, "badplug", {"bad": "badplug_mod:Cls"}, {"badplug_mod": body + "\n"})
    failure = next(e for e in fresh.entries() if e.name == "bad")
    assert not failure.ok and failure.package == "badplug" and said in failure.error
    assert "state" in fresh.names()  # the others still load
    with pytest.raises(PluginError, match=r"condition 'bad': badplug 0\.1 failed to load"):
        fresh.get("bad")


def test_a_plugin_whose_constructor_exits_is_skipped(fresh, tmp_path):
    body = GOOD + "\nclass Exits(Good):\n    def __init__(self, config=None):\n        raise SystemExit(7)\n"
    install(tmp_path, "exitplug", {"exits": "exitplug_mod:Exits"}, {"exitplug_mod": body})
    failure = next(e for e in fresh.entries() if e.name == "exits")
    assert not failure.ok and "sys.exit(7)" in failure.error and "__init__()" in failure.error


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_memory_errors_and_interrupts_at_import_are_not_swallowed(fresh, tmp_path, error):
    module = f"stop_{error.__name__.lower()}"
    install(tmp_path, "stopplug", {"stops": f"{module}:Cls"}, {module: f"raise {error.__name__}\n"})
    with pytest.raises(error):
        fresh.entries()


def test_other_commands_run_beside_a_plugin_that_exits_at_import(tmp_path):
    install(
        tmp_path, "exitplug", {"exits": "exit_at_import:Cls"}, {"exit_at_import": "raise SystemExit(3)\n"}
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    run = lambda *argv: subprocess.run(  # noqa: E731
        [sys.executable, "-c", "import sys; from ccvs_core.cli import main; sys.exit(main(sys.argv[1:]))", *argv],
        capture_output=True, text=True, timeout=120, env={**env, "COLUMNS": "200"},
    )  # fmt: skip
    version = run("--version")
    assert version.returncode == 0 and "ccvs-core" in version.stdout
    listed = run("conditions")
    assert listed.returncode == 0, listed.stderr
    assert "exits" in listed.stdout and "sys.exit(3)" in listed.stdout and "state" in listed.stdout


# (b) one name, one distribution ----------------------------------------------------------------------


def test_an_earlier_sorting_package_cannot_take_a_built_in_name(fresh, tmp_path):
    install(tmp_path, "aaa-impostor", {"state": "impostor_mod:Good"}, {"impostor_mod": GOOD})
    claims = [e for e in fresh.entries() if e.name == "state"]
    assert {e.package for e in claims} == {"aaa-impostor", "ccvs-plugin-state"}
    assert not any(e.ok for e in claims) and "state" not in fresh.names()
    with pytest.raises(PluginError, match="claimed by both aaa-impostor and ccvs-plugin-state"):
        fresh.get("state")
    # the shipped pipeline recorded ccvs-plugin-state: it is neither used without state nor given the impostor
    with pytest.raises(PluginError, match=r"condition 'state'.*aaa-impostor and ccvs-plugin-state"):
        CCVSPipeline.from_pretrained(DEFAULT_MODEL)


def test_a_pipeline_takes_a_condition_only_from_its_recorded_distribution(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("CCVS_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the impostor provides 'state'
    fresh.register("state")(_good("State"))
    with pytest.raises(PluginError, match=r"made with ccvs-plugin-state 0\.4\.0, but here \S+ provides it"):
        CCVSPipeline.from_pretrained(DEFAULT_MODEL)


# (c) exceptions from a plugin's hooks --------------------------------------------------------------


def _good(name: str, **hooks) -> type[Condition]:
    def slots(self):
        return [Slot("video", 1, 3)]

    def parse(self, value, options):
        return value

    def from_sample(self, clip):
        return None

    def tokenize(self, raw, timeline):
        return {"tokens": torch.zeros(1, 1, dtype=torch.long)}

    body = {"slots": slots, "parse": parse, "from_sample": from_sample, "tokenize": tokenize}
    return type(name, (Condition,), {**body, **hooks})


def raising(error: BaseException):
    def hook(self, *args, **kwargs):
        raise error

    return hook


@pytest.mark.parametrize(
    ("hook", "call"),
    [
        ("parse", lambda c: read_condition(c, "x")),
        ("from_sample", lambda c: c.from_sample(None)),
        ("tokenize", lambda c: c.tokenize(None, Timeline(num_frames=2, fps=10.0))),
        ("prepare", lambda c: c.prepare([], None)),
        ("decode", lambda c: c.decode({})),
        ("measures", lambda c: c.measures(np.zeros(1), np.zeros(1), 0)),
    ],
)
def test_an_exception_from_a_hook_is_a_plugin_error_naming_plugin_and_hook(fresh, hook, call):
    condition = fresh.register("hooked")(_good("Hooked", **{hook: raising(KeyError("oops"))}))()
    with pytest.raises(PluginError, match=rf"condition 'hooked' \(.*\): {hook}\(\) failed: KeyError: 'oops'"):
        call(condition)


def test_a_ccvs_error_from_a_hook_stays_what_it_is(fresh):
    condition = fresh.register("picky")(_good("Picky", parse=raising(InputError("--cond picky", "no"))))()
    with pytest.raises(InputError, match="--cond picky: no"):
        read_condition(condition, "x")


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_interrupts_and_memory_errors_from_a_hook_pass_through(fresh, error):
    condition = fresh.register("stops")(_good("Stops", tokenize=raising(error())))()
    with pytest.raises(error):
        condition.tokenize(None, Timeline(num_frames=2, fps=10.0))


def test_a_missing_hook_is_a_plugin_error(fresh):
    half = type("Half", (Condition,), {"slots": lambda self: [Slot("video", 1, 3)]})
    with pytest.raises(PluginError, match=r"does not implement parse\(\), from_sample\(\), tokenize\(\)"):
        fresh.register("half")(half)
    with pytest.raises(PluginError, match=r"condition 'Half' \(.*\): does not implement from_sample\(\)"):
        half().from_sample(None)  # used without registering: still no AttributeError or bare traceback
