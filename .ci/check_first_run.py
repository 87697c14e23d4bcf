"""CI: the quickstart's video (run from an empty folder) holds the frames and the size it asks for, and
ccvs-core and every plugin are installed as wheels with complete metadata.

    python .ci/check_first_run.py "QUICKSTART COMMAND"
"""

import importlib.metadata as metadata
import json
import shlex
import sys

import numpy as np
from release_metadata import FIELDS, PACKAGES

from ccvs_core.media import video_info
from ccvs_core.shipped import DEFAULT_MODEL, sample_files
from ccvs_core.visualize import make_video_grid

words = shlex.split(sys.argv[1])
value = lambda flag, default: words[words.index(flag) + 1] if flag in words else default  # noqa: E731
out, frames, samples = value("--out", None), int(value("--frames", 16)), int(value("--samples", 1))
height, width = json.loads((DEFAULT_MODEL / "config.json").read_text())["frame_size"]
expected = make_video_grid(np.zeros((samples, 1, height, width, 3), np.uint8)).shape[1:3]
info = video_info(out)
assert (info.num_frames, (info.height, info.width)) == (frames, expected), (out, info, frames, expected)
assert sample_files(), "the sample inputs are not in the installed package"
assert "site-packages" in str(DEFAULT_MODEL), f"ccvs-core is not installed as a wheel ({DEFAULT_MODEL})"
print(f"ci: {out}: {info.num_frames} frames of {info.width} x {info.height}, as asked")
for name in PACKAGES:
    meta = metadata.metadata(name)
    missing = [k for k in FIELDS if not meta.get_all(k)]
    assert not missing, f"{name}: its wheel's metadata lacks {missing}"
    licence = [f for f in metadata.files(name) if f.name == "LICENSE"]
    assert licence and licence[0].locate().is_file(), f"{name}: its wheel installs no LICENSE"
print(f"ci: the metadata of {len(PACKAGES)} installed packages is complete, each with its LICENSE")
