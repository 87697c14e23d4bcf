"""The ``log.jsonl`` of a training run: one JSON record per logged step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_log(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def truncate_log(path: Path, step: int) -> None:
    """Drop the records past ``step`` (written after the checkpoint a resumed run restarts from)."""
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
