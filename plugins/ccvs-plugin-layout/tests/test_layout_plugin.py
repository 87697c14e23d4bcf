"""ccvs-plugin-layout: COCO (polygons, RLE) and label PNGs with pycocotools, bad inputs, the pooled
token grid, and the condition end to end through the CLI."""

import json

import numpy as np
import pytest
import torch
from ccvs_plugin_layout import LayoutCondition, LayoutConfig
from ccvs_plugin_layout.maps import (
    fit_to_frame,
    mean_iou,
    pool_to_grid,
    read_coco_file,
    read_label_pngs,
    unpool,
)
from PIL import Image

from ccvs_core import (
    CCVSPipeline,
    ConditionContext,
    InputError,
    Timeline,
    get_condition,
    list_conditions,
    read_frames,
)
from ccvs_core.testing import ConditionConformance, generate_cli, tiny_world, train_pipeline

CLASSES = ("car", "road")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "layout")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-layout" and get_condition("layout") is LayoutCondition


class TestLayoutConformance(ConditionConformance):
    condition = "layout"
    config = {"grid": [2, 2]}  # noqa: RUF012
    bad_values = ["no/such/layout.json"]  # noqa: RUF012

    def cli_value(self, world, folder):
        return str(world.first_frame().parent.parent / "layout.json")


def encode(mask):
    """A mask as uncompressed COCO RLE: run lengths, column by column, starting with a run of 0s."""
    runs, current, count = [], False, 0
    for value in np.asarray(mask, bool).ravel(order="F").tolist():
        if value == current:
            count += 1
        else:
            runs.append(count)
            current, count = value, 1
    return {"size": list(mask.shape), "counts": [*runs, count]}


def coco(frames=2, size=(8, 12), **changes):
    h, w = size
    square = np.zeros(size, bool)
    square[2:6, 4:8] = True
    images = [{"id": 10 + t, "width": w, "height": h, "frame_index": t} for t in range(frames)]
    annotations = [
        {
            "id": 1,
            "image_id": 10,
            "category_id": 2,
            "segmentation": [[0, 0, 12, 0, 12, 4, 0, 4]],
        },  # polygon: rows 0-3
        {"id": 2, "image_id": 10, "category_id": 1, "segmentation": encode(square)},  # RLE, painted on top
    ]
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}],
    }
    data.update(changes)
    return data


def annotated(segmentation):
    """The change to ``coco()`` that gives its first image one annotation of this segmentation."""
    return {"annotations": [{"id": 1, "image_id": 10, "category_id": 1, "segmentation": segmentation}]}


def write(tmp_path, data, name="layout.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_coco_polygons_and_rle_become_class_maps(tmp_path):
    maps = read_coco_file(write(tmp_path, coco()), CLASSES).maps
    assert maps.shape == (2, 8, 12)
    assert (maps[0, 0:2] == 2).all()  # road polygon (class 2), not covered by the car
    assert (maps[0, 2:6, 4:8] == 1).all()  # car RLE on top
    assert (maps[0, 6:] == 0).all() and (maps[1] == 0).all()  # background; frame 1 has no annotation


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"categories": [{"id": 1, "name": "tree"}, {"id": 2, "name": "road"}]},
            r"categories \['tree'\] that are not layout classes",
        ),
        ({"images": []}, "has no images"),
        ({"images": [{"id": 10, "width": 12, "height": 8, "frame_index": 3}]}, "must cover frames 0, 1, 2"),
        (
            {
                "annotations": [
                    {"id": 1, "image_id": 99, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]]}
                ]
            },
            "not in 'images'",
        ),
        (
            {
                "annotations": [
                    {"id": 1, "image_id": 10, "category_id": 1, "segmentation": {"counts": [1, 2]}}
                ]
            },
            "must be polygons or an RLE object",
        ),
        (
            {"annotations": [{"id": 1, "image_id": 10, "category_id": 1, "segmentation": 5}]},
            "must be polygons or an RLE object",
        ),
        # each of these crashed the process in pycocotools, or allocated terabytes, or was a traceback
        (annotated([[-1e300, 0, 10, 0, 10, 5]]), r"polygon point outside x -24\.\.36"),
        (annotated([[-1e9, 0, 1e9, 0, 10, 1e9]]), "polygon point outside"),
        (annotated({"size": [1000000, 1000000], "counts": [10**12]}), "RLE size .1000000, 1000000. differs"),
        (annotated({"size": [8, 12], "counts": "P1P1P1P1P1"}), "RLE runs cover 224 pixels, the image 96"),
        (annotated({"size": [8, 12], "counts": "0z"}), "the character 'z'"),
        ({"images": [{"id": 10, "width": 10**6, "height": 10**6}]}, "images are 1000000x1000000; sides of 1"),
        ({"images": [{"id": 10 + t, "width": 16384, "height": 16384} for t in range(5)]}, "need 1.2 GiB"),
        ({"images": [{"id": 10, "width": 12, "height": 8, "frame_index": "0"}]}, "'frame_index' must be an"),
        ({"categories": [{"id": "1", "name": "car"}]}, r"categories\[0\] needs an integer 'id'"),
        ({"categories": [{"id": 1}]}, r"categories\[0\] needs an integer 'id' and a string 'name'"),
        ({"categories": ["car"]}, r"categories\[0\] needs"),
        (
            {"annotations": [{"id": 1, "image_id": [10], "category_id": 1, "segmentation": []}]},
            "refers to image",
        ),
    ],
)
def test_bad_coco_files_name_the_file_and_the_problem(tmp_path, change, problem):
    path = write(tmp_path, coco(**change))
    with pytest.raises(InputError, match=problem) as err:
        read_coco_file(path, CLASSES)
    assert "layout.json" in str(err.value)
    with pytest.raises(InputError, match="is not valid JSON"):
        read_coco_file(write(tmp_path, "{oops", "broken.json"), CLASSES)
    with pytest.raises(InputError, match="nested deeper than 64 levels"):
        read_coco_file(write(tmp_path, "[" * 100_000 + "]" * 100_000, "deep.json"), CLASSES)


def test_label_pngs(tmp_path):
    for t in range(3):
        Image.fromarray(np.full((4, 6), t % 3, np.uint8), mode="L").save(tmp_path / f"{t:03d}.png")
    maps = read_label_pngs(tmp_path, CLASSES).maps
    assert maps.shape == (3, 4, 6) and maps[:, 0, 0].tolist() == [0, 1, 2]
    Image.fromarray(np.full((4, 6), 7, np.uint8), mode="L").save(tmp_path / "009.png")
    with pytest.raises(InputError, match="has label 7"):
        read_label_pngs(tmp_path, CLASSES)
    Image.new("RGB", (6, 4)).save(tmp_path / "009.png")
    with pytest.raises(InputError, match="single-channel"):
        read_label_pngs(tmp_path, CLASSES)


def test_pooling_keeps_small_objects_and_round_trips_coarse_maps():
    maps = np.zeros((1, 8, 8), np.int64)
    maps[0, 0:2, 0:2] = 1  # a quarter of cell (0, 0): owns it at min_cover 0.25
    maps[0, 4, 4] = 2  # 1/16 of cell (1, 1): too small
    grid = pool_to_grid(maps, (2, 2), 2, 0.25)
    assert grid.tolist() == [[[1, 0], [0, 0]]]
    coarse = np.kron(np.array([[[1, 2], [0, 1]]]), np.ones((4, 4), np.int64))
    assert np.array_equal(unpool(pool_to_grid(coarse, (2, 2), 2, 0.25), (8, 8)), coarse)
    assert mean_iou(coarse, coarse, 2) == 1.0
    wide = np.zeros((1, 4, 8), np.int64)
    wide[0, :, :2] = 1
    assert fit_to_frame(wide, (4, 4))[0].tolist() == [[0, 0, 0, 0]] * 4  # centre crop, like a frame


def test_tokens_cover_the_timeline():
    condition = LayoutCondition(LayoutConfig(grid=(2, 3), classes=CLASSES))
    condition.context = ConditionContext(lambda f: None, (8, 12), 10.0, (2, 2), 16)
    maps = np.zeros((5, 8, 12), np.int64)
    maps[3] = 2
    from ccvs_plugin_layout.maps import LayoutMaps

    tokens = condition.tokenize(LayoutMaps(maps), Timeline(2, 10.0, start_frame=2))["tokens"]
    assert tokens.shape == (1, 2, 6) and tokens.dtype == torch.long
    assert tokens[0, :, 0].tolist() == [0, 2]
    with pytest.raises(InputError, match="has layouts for 5 frames, the video needs 6"):
        condition.tokenize(LayoutMaps(maps), Timeline(2, 10.0, start_frame=4))


def test_ccvs_trains_and_generates_with_layouts(world, tmp_path, capsys):
    pipeline_dir = train_pipeline(world, tmp_path / "run", ["layout:grid=[4,4]"])
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    assert pipeline.conditions["layout"].config.classes == ("gripper", "object", "pad", "striker")
    video = sorted(p for p in world.data.iterdir() if p.is_dir())[0]
    context = world.first_frame()
    assert (
        generate_cli(
            pipeline_dir, tmp_path / "a.gif", [f"layout:{video / 'layout.json'}"], context=context, frames=6
        )
        == 0
    )
    assert read_frames(tmp_path / "a.gif").shape[0] == 6
    capsys.readouterr()
    assert (
        generate_cli(
            pipeline_dir, tmp_path / "b.gif", [f"layout:{video / 'layout.json'}"], context=context, frames=8
        )
        == 2
    )
    assert "has layouts for 6 frames, the video needs 8" in capsys.readouterr().err


def test_a_layout_pipeline_predicts_layouts_when_none_is_given(world, tmp_path, capsys):
    """Fig. D2: leave --cond layout out, and the layouts are sampled with the frames and saved."""
    pipeline_dir = train_pipeline(world, tmp_path / "run", ["layout:grid=[2,2]"])
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    context = read_frames(world.first_frame())
    videos, predicted = pipeline.generate(
        context, {}, num_frames=4, num_samples=2, seed=0, return_predicted=True
    )
    pictures = predicted["layout"]
    assert videos.shape == (2, 4, 16, 16, 3) and pictures.shape == (2, 4, 16, 16, 3)
    assert pictures.dtype == np.uint8
    out = tmp_path / "a.gif"
    assert generate_cli(pipeline_dir, out, [], context=world.first_frame(), frames=4) == 0
    assert (tmp_path / "a-layout.png").is_file()
    assert "wrote the predicted layout" in capsys.readouterr().out
