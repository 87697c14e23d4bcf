"""Validate a whole dataset folder and summarise it (``ccvs data check``)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import attrs

from ccvs_core.console import track
from ccvs_core.data.audio import read_audio
from ccvs_core.data.format import list_video_folders, load_layout, load_state, read_json
from ccvs_core.data.video import VideoRecord, index_video
from ccvs_core.errors import InputError


@attrs.define
class DatasetReport:
    root: Path
    videos: list[VideoRecord] = attrs.Factory(list)
    problems: list[str] = attrs.Factory(list)  # one InputError message per bad file
    modalities: Counter = attrs.Factory(Counter)  # "audio" / "state" / "layout" / "truth" -> videos having it

    @property
    def ok(self) -> bool:
        return not self.problems


def check_video(record: VideoRecord) -> list[str]:
    """Validate the optional files of one indexed video; return the problems found."""
    problems = []
    try:
        if record.audio_path:
            samples, rate = read_audio(record.audio_path)
            duration, needed = samples.shape[1] / rate, record.num_frames / record.meta.fps
            if duration < needed - 1 / record.meta.fps:
                problems.append(f"{record.audio_path}: lasts {duration:.2f} s, the video {needed:.2f} s")
    except InputError as err:
        problems.append(str(err))
    checks = (
        (record.state_path, lambda p: load_state(p, record.meta.fps, record.num_frames)),
        (record.layout_path, lambda p: load_layout(p, record.num_frames, record.size)),
        (record.truth_path, read_json),
    )
    for path, load in checks:
        if path is None:
            continue
        try:
            load(path)
        except InputError as err:
            problems.append(str(err))
    return problems


def check_dataset(root: str | os.PathLike, progress: bool = True) -> DatasetReport:
    """Open every file of every video folder; collect every problem rather than stopping at the first."""
    report = DatasetReport(Path(root))
    folders = list_video_folders(root)  # a missing root is an InputError of its own
    for folder in track(folders, "checking videos", disable=not progress):
        try:
            record = index_video(folder, verify_frames=True)
        except InputError as err:
            report.problems.append(str(err))
            continue
        report.videos.append(record)
        report.problems.extend(check_video(record))
        for name, path in (
            ("audio", record.audio_path),
            ("state", record.state_path),
            ("layout", record.layout_path),
            ("truth", record.truth_path),
        ):
            report.modalities[name] += path is not None
    return report
