"""``ccvs doctor``: the installation's parts, and each problem with its fix."""

from ccvs_core import __version__
from ccvs_core.cli import main
from ccvs_core.conditions import ConditionEntry


def test_a_sound_installation_reports_its_parts(capsys):
    assert main(["doctor"]) == 0
    printed = capsys.readouterr().out
    assert f"ccvs-core {__version__}" in printed and "torch build" in printed
    for name in ("audio", "state", "layout", "endframe", "class"):
        assert f"ccvs-plugin-{name}" in printed
    assert "endframe 0.82 at W = 2" in printed  # the shipped model's recorded control
    assert "no problem found" in printed


def test_problems_are_listed_with_their_fixes(monkeypatch, capsys):
    import ccvs_core.conditions as conditions

    broken = ConditionEntry(
        name="audio", cls=None, source="entry point", package="ccvs-plugin-audio", version="0.5.0",
        error="ImportError: no module named torchaudio",
    )  # fmt: skip
    others = [e for e in conditions.list_conditions() if e.name != "audio"]
    monkeypatch.setattr(conditions, "list_conditions", lambda: [broken, *others])
    assert main(["doctor"]) == 1
    printed = capsys.readouterr().out
    assert "condition 'audio' (ccvs-plugin-audio) did not load" in printed
    assert "reinstall or update ccvs-plugin-audio" in printed
    assert "the shipped model's condition 'audio' is not installed" in printed
    assert "pip install ccvs-plugin-audio" in printed
