"""Atomic writes: complete under the final name or absent, and on disk before the rename (durable)."""

import os

import pytest

from ccvs_core import atomic
from ccvs_core.atomic import atomic_path, write_text_atomic


@pytest.fixture
def events(monkeypatch):
    """What reaches the disk and what is renamed, in order."""
    seen = []
    fsync, replace, sync = os.fsync, os.replace, os.sync
    monkeypatch.setattr(
        atomic.os, "fsync", lambda fd: seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or fsync(fd)
    )
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: seen.append(("replace", str(b))) or replace(a, b))
    monkeypatch.setattr(atomic.os, "sync", lambda: seen.append(("sync",)) or sync())
    return seen


def test_a_file_is_synced_before_its_rename_and_its_folder_after(tmp_path, events):
    write_text_atomic(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"
    kinds = [(e[0], os.path.basename(e[1]) if len(e) > 1 else "") for e in events]
    assert kinds[0][0] == "fsync" and kinds[0][1].startswith(".a.json.tmp-")
    assert kinds[1:] == [("replace", "a.json"), ("fsync", tmp_path.name)]


def test_a_folder_is_synced_before_its_rename_unless_an_outer_one_syncs(tmp_path, events):
    with atomic_path(tmp_path / "run", directory=True) as tmp:
        (tmp / "x.bin").write_bytes(b"1")
    assert [e[0] for e in events] == ["sync", "fsync", "replace", "fsync"]
    events.clear()
    with atomic_path(tmp_path / "inner", directory=True, durable=False) as tmp:
        (tmp / "x.bin").write_bytes(b"1")
    assert [e[0] for e in events] == ["replace"]


def test_an_error_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
