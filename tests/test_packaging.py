"""What the release files are made from (.ci/build-dists, checked built by .ci/check_dists.py in CI):
every package's pyproject.toml declares complete metadata with version ranges, and carries the
project's LICENSE."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT, *sorted((ROOT / "plugins").glob("ccvs-plugin-*"))]


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda folder: folder.name)
def test_each_package_declares_complete_metadata_with_ranges(folder):
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    for field in ("description", "readme", "license", "license-files", "requires-python", "authors"):
        assert project.get(field), f"{folder.name}: pyproject.toml lacks project.{field}"
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"])
    for requirement in project["dependencies"]:
        assert "==" not in requirement, f"{folder.name}: pins {requirement}; pins belong in constraints.txt"
        assert any(op in requirement for op in (">=", "<", "~=")), (
            f"{folder.name}: {requirement} has no range"
        )


@pytest.mark.parametrize("folder", PACKAGES[1:], ids=lambda folder: folder.name)
def test_each_plugin_carries_the_project_license(folder):
    # an sdist cannot reach outside its folder, so each plugin keeps a copy
    assert (folder / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
