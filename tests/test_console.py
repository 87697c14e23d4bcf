"""The progress display every long command shows: readable at 80 columns however long its status."""

import io

from rich.console import Console

from ccvs_core import console


def test_the_step_count_and_the_eta_stay_whole_at_80_columns(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(console, "console", Console(file=screen, width=80, color_system=None))
    status = "loss=1.234 lr=3.00e-04 held-out loss=1.456 (step 1200) " * 3
    with console.progress_bar() as bar:
        bar.add_task("transformer", total=20000, completed=1234, status=status)
        bar.refresh()
    lines = [line for line in screen.getvalue().splitlines() if line.strip()]
    first, second = lines[-2], lines[-1]
    assert first.startswith("transformer") and "1234/20000" in first and first.rstrip().endswith("-:--:--")
    assert second.startswith("  loss=1.234") and len(second) <= 80  # the losses below, cut with an ellipsis
    assert all(len(line) <= 80 for line in lines)
