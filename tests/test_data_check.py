"""``ccvs data check``: a valid folder passes; every kind of bad file is reported with its name."""

import json
import os

import numpy as np
import pytest

from ccvs_core.cli import main
from ccvs_core.console import out
from ccvs_core.data.audio import write_wav
from ccvs_core.data.check import check_dataset
from tests.helpers import write_video_folder


def test_valid_dataset_passes(tiny_dataset, capsys, monkeypatch):
    report = check_dataset(tiny_dataset, progress=False)
    assert report.ok, report.problems
    assert len(report.videos) == 4
    assert (
        report.modalities["audio"] == 3
        and report.modalities["layout"] == 3
        and report.modalities["state"] == 4
    )
    monkeypatch.setattr(out, "width", 200)
    assert main(["data", "check", str(tiny_dataset)]) == 0
    text = capsys.readouterr().out
    assert "train" in text and "test" in text and "12x8" in text and "ok" in text


def break_meta(folder):
    (folder / "meta.json").write_text(json.dumps({"fps": 10, "split": "training"}))


def break_frames_gap(folder):
    (folder / "frames" / "000002.png").unlink()


def break_png(folder):
    (folder / "frames" / "000003.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def break_frame_size(folder):
    from PIL import Image

    Image.new("RGB", (5, 5)).save(folder / "frames" / "000001.png")


def break_state_count(folder):
    (folder / "state.json").write_text(json.dumps({"fps": 10.0, "positions": [[1, 1]] * 4}))


def break_layout_image(folder):
    data = json.loads((folder / "layout.json").read_text())
    data["annotations"][0]["image_id"] = 999
    (folder / "layout.json").write_text(json.dumps(data))


def break_layout_json(folder):
    (folder / "layout.json").write_text("{")


def break_audio_short(folder):
    write_wav(folder / "audio.wav", np.zeros((1, 100), dtype=np.float32), 800)


def break_audio_corrupt(folder):
    (folder / "audio.wav").write_bytes(b"RIFF....WAVEfmt nonsense")


def break_meta_count(folder):
    (folder / "meta.json").write_text(json.dumps({"fps": 10, "split": "train", "num_frames": 7}))


def break_unknown_key(folder):
    (folder / "meta.json").write_text(json.dumps({"fps": 10, "split": "train", "clas": "x"}))


def _layout_segmentation(folder, segmentation):
    data = json.loads((folder / "layout.json").read_text())
    data["annotations"][0]["segmentation"] = segmentation
    (folder / "layout.json").write_text(json.dumps(data))


def break_layout_far_polygon(folder):  # pycocotools crashed the process on this
    _layout_segmentation(folder, [[-1e300, 0, 10, 0, 10, 5]])


def break_layout_huge_rle(folder):  # pycocotools would decode the RLE at its own size
    _layout_segmentation(folder, {"size": [1000000, 1000000], "counts": [10**12]})


def break_layout_compressed_rle(folder):  # runs past the image: pycocotools wrote past its buffer
    _layout_segmentation(folder, {"size": [8, 12], "counts": "P1P1P1P1P1"})


def break_layout_list_id(folder):  # found by benchmarks/fuzz.py: a TypeError (unhashable) before
    data = json.loads((folder / "layout.json").read_text())
    data["annotations"][0]["image_id"] = [100]
    (folder / "layout.json").write_text(json.dumps(data))


def break_layout_object_category(folder):
    data = json.loads((folder / "layout.json").read_text())
    data["annotations"][0]["category_id"] = {"id": 1}
    (folder / "layout.json").write_text(json.dumps(data))


def break_layout_deep(folder):
    (folder / "layout.json").write_text("[" * 100_000 + "]" * 100_000)


def break_state_huge_integer(folder):
    (folder / "state.json").write_text('{"fps": 10.0, "positions": [[1' + "0" * 5000 + ", 1]]}")


def break_png_header(folder):  # fuzz.py, dataset check, case 1665: PIL's ValueError escaped
    path = folder / "frames" / "000002.png"
    data = path.read_bytes()
    path.write_bytes(data[:8] + (5).to_bytes(4, "big") + b"IHDR" + data[16:21] + b"CRC!")  # IHDR has 13


def break_png_chunk_length(folder):  # a chunk claiming 2 GiB made PIL allocate them (fuzz.py, frames)
    path = folder / "frames" / "000004.png"
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") - 4
    data[idat : idat + 4] = (2**31 - 1).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def break_meta_infinite_fps(folder):
    (folder / "meta.json").write_text('{"fps": 1e400, "split": "train"}')


@pytest.mark.parametrize(
    ("breaker", "file", "problem"),
    [
        (break_meta, "meta.json", "'split' must be one of train, val, test"),
        (break_unknown_key, "meta.json", "unknown keys ['clas']"),
        (break_meta_count, "meta.json", "says num_frames=7, frames has 6"),
        (break_frames_gap, "frames", "frame 000002.png is missing"),
        (break_png, "frames/000003.png", "is a damaged PNG"),
        (break_frame_size, "frames/000001.png", "is 5x5, the first frame is 12x8"),
        (break_state_count, "state.json", "one [x, y] per frame (6), got 4"),
        (break_layout_image, "layout.json", "refers to image 999, which is not in 'images'"),
        (break_layout_json, "layout.json", "is not valid JSON"),
        (break_layout_far_polygon, "layout.json", "annotations[0] has a polygon point outside x -24..36"),
        (
            break_layout_huge_rle,
            "layout.json",
            "RLE size [1000000, 1000000] differs from the image's [8, 12]",
        ),
        (break_layout_compressed_rle, "layout.json", "RLE runs cover 224 pixels, the image 96"),
        (break_layout_deep, "layout.json", "is nested deeper than 64 levels"),
        (break_layout_list_id, "layout.json", "refers to image [100], which is not in 'images'"),
        (break_layout_object_category, "layout.json", "has category {'id': 1}, not in 'categories'"),
        (break_state_huge_integer, "state.json", "beyond 2**53"),
        (break_meta_infinite_fps, "meta.json", "1e400, which overflows a float"),
        (break_png_header, "frames/000002.png", "is not a readable PNG"),
        (
            break_png_chunk_length,
            "frames/000004.png",
            "is a damaged PNG: chunk 'IDAT' claims 2147483647 bytes",
        ),
        (break_audio_short, "audio.wav", "lasts 0.12 s, the video 0.60 s"),
        (break_audio_corrupt, "audio.wav", "cannot be decoded as audio"),
    ],
)
def test_each_problem_names_its_file(tmp_path, breaker, file, problem, capsys, monkeypatch):
    root = tmp_path / "data"
    write_video_folder(root, "good")
    breaker(write_video_folder(root, "bad"))
    report = check_dataset(root, progress=False)
    assert len(report.problems) == 1, report.problems
    assert report.problems[0].split(": ")[0].endswith(f"bad/{file}")
    assert problem in report.problems[0]
    monkeypatch.setattr(out, "width", 300)
    assert main(["data", "check", str(root)]) == 1
    assert problem in capsys.readouterr().out


def test_missing_or_empty_dataset_is_an_input_error(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nope")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["data", "check", str(tmp_path / "empty")]) == 2
    assert "holds no video folders" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["frames/000001.png", "meta.json", "state.json", "layout.json", "audio.wav"])
def test_a_fifo_is_named_not_read(tmp_path, name):  # reading it blocked data check for ever
    folder = write_video_folder(tmp_path / "data", "a")
    (folder / name).unlink()
    os.mkfifo(folder / name)
    report = check_dataset(tmp_path / "data", progress=False)
    assert report.problems == [f"{folder / name}: is not a regular file"]
