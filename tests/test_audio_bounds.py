"""``read_audio`` refuses impossible rates and channel counts before decoding, and reads only the
seconds asked for; ``ccvs generate`` decodes only the context frames it uses."""

import struct

import numpy as np
import pytest

from ccvs_core.data.audio import read_audio, write_wav
from ccvs_core.errors import InputError
from ccvs_core.media import read_video_frames, write_video


@pytest.fixture
def minute_wav(tmp_path):
    path = tmp_path / "minute.wav"
    write_wav(path, np.sin(np.arange(8000 * 60) / 7.0).astype(np.float32)[None], 8000)
    return path


def test_only_the_seconds_asked_for_are_read(minute_wav):
    whole, rate = read_audio(minute_wav)
    start, same_rate = read_audio(minute_wav, max_seconds=2.5)
    assert whole.shape == (1, 480_000) and start.shape == (1, 20_000) and rate == same_rate == 8000
    np.testing.assert_array_equal(start, whole[:, :20_000])


@pytest.mark.parametrize(
    ("offset", "value", "problem"),
    [
        (
            24,
            687_881_856,
            "a sample rate of 687881856 Hz; 1 to 384000 Hz are read",
        ),  # was 2.9 GB of resampling
        (22, 300, "has 300 channels; 1 to 64 are read"),
    ],
)
def test_header_claims_past_the_limits_are_refused(minute_wav, tmp_path, offset, value, problem):
    data = bytearray(minute_wav.read_bytes())
    data[offset : offset + (4 if offset == 24 else 2)] = struct.pack("<I" if offset == 24 else "<H", value)
    path = tmp_path / "claims.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=problem):
        read_audio(path)


def test_a_video_is_decoded_only_up_to_the_frames_asked_for(tmp_path, monkeypatch):
    from ccvs_core import media

    frames = np.random.default_rng(0).integers(0, 255, (30, 16, 16, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "long.mp4", 10)
    converted = []
    to_rgb = media._to_rgb
    monkeypatch.setattr(media, "_to_rgb", lambda frame: converted.append(1) or to_rgb(frame))
    assert read_video_frames(tmp_path / "long.mp4", range(2)).shape == (2, 16, 16, 3)
    assert len(converted) == 2


def test_a_header_that_leaves_no_decoder_is_an_input_error(minute_wav, tmp_path):
    data = bytearray(minute_wav.read_bytes())
    data[31:35] = b"\xff\xff\xff\xff"  # found by benchmarks/fuzz.py: an AttributeError from PyAV before
    path = tmp_path / "damaged.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"damaged\.wav: "):
        read_audio(path)


def test_a_damaged_gif_is_an_input_error(tmp_path):
    from ccvs_core.media import read_frames

    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "a.gif", 5)
    data = (tmp_path / "a.gif").read_bytes()
    (tmp_path / "a.gif").write_bytes(data[: len(data) // 2])  # found by the fuzz suite: an IndexError in PIL
    with pytest.raises(InputError, match="cannot be read as a GIF"):
        read_frames(tmp_path / "a.gif")
