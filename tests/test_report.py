"""``ccvs report``: one self-contained HTML page of a training run, opened in headless Chromium."""

import os
import re
import shutil
import subprocess

import pytest

from ccvs_core.cli import main
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.report import svg_chart

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium and sets this: there the browser test must run, never skip
REQUIRED = os.environ.get("CCVS_REQUIRE_CHROMIUM") == "1"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny stage-1 run: 10 steps (a log record at step 10), samples at steps 5 and 10."""
    root = tmp_path_factory.mktemp("report")
    generate_toyworld(
        ToyworldConfig(videos=6, frames=6, size=32, seed=3), root / "data", workers=1, progress=False
    )
    argv = [
        "train",
        "autoencoder",
        "--data",
        str(root / "data"),
        "--out",
        str(root / "run"),
        "--preset",
        "tiny",
    ]
    assert main([*argv, "--steps", "10", "--sample-every", "5", "--checkpoint-every", "5"]) == 0
    return root / "run"


def test_the_report_holds_curves_samples_and_settings(run, capsys):
    assert main(["report", "--run", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "wrote" in capsys.readouterr().out
    assert page.count("<svg") >= 3  # total, reconstruction, usage, ...
    assert "<h3>video</h3>" in page and "<h3>flow</h3>" in page  # the grids and the flow/mask pictures
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4  # steps 5 and 10 of each kind
    assert '"codebook_size": 32' in page  # the settings
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_a_chart_labels_its_range_with_the_digits_that_tell_its_ends_apart():
    labels = lambda points: re.findall(r'text-anchor="end">([^<]+)<', svg_chart("loss", points))  # noqa: E731
    assert labels([(1, 2.5), (2, 0.75)]) == ["2.5", "0.75"]
    assert labels([(1, 1.36012), (2, 1.36047)]) == ["1.3605", "1.3601"]  # not "1.36" twice
    assert labels([(1, 0.0), (2, 0.0)]) == ["0"]  # a constant: one label


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main(["report", "--run", str(tmp_path)]) == 2
    assert f"--run: {tmp_path} is not a training run folder (no run.json)" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="needs Chromium (CI installs it)")
def test_chromium_renders_every_picture_of_the_report(run, tmp_path):
    assert CHROMIUM is not None, "CCVS_REQUIRE_CHROMIUM=1 but no chromium on PATH"
    assert main(["report", "--run", str(run), "--out", str(tmp_path / "report.html")]) == 0
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    url = (tmp_path / "report.html").as_uri()
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    images = re.search(r'data-images-loaded="(\d+)"', dom), re.search(r'data-images="(\d+)"', dom)
    assert images[0] and images[1], dom[-2000:]
    assert images[0].group(1) == images[1].group(1) == "4"  # every picture decoded
    shot = tmp_path / "report.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1000,1400", url], capture_output=True, timeout=120
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
