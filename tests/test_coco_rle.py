"""COCO RLE: round trips, agreement with pycocotools, boxes and areas, and the geometry checks that
keep hostile segmentations away from pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccvs_core.data import coco_rle
from ccvs_core.errors import InputError


def random_masks(count: int, seed: int = 0):
    """Masks of random sizes and densities, including empty and full ones."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        height, width = rng.integers(1, 24, size=2)
        yield rng.random((height, width)) < rng.choice([0.0, 0.05, 0.5, 0.95, 1.0])


def test_round_trip():
    for mask in random_masks(200):
        rle = coco_rle.encode(mask)
        assert rle["size"] == list(mask.shape)
        assert sum(rle["counts"]) == mask.size
        assert all(c > 0 for c in rle["counts"][1:])  # maximal runs; only the first may be empty
        np.testing.assert_array_equal(coco_rle.decode(rle), mask)


def test_column_major_and_leading_zero_run():
    mask = np.array([[1, 0], [1, 1]], dtype=bool)  # columns: (1, 1), (0, 1)
    assert coco_rle.encode(mask) == {"size": [2, 2], "counts": [0, 2, 1, 1]}
    assert coco_rle.encode(np.zeros((2, 3), dtype=bool))["counts"] == [6]


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")  # its numpy 2 copy= warning
def test_agrees_with_pycocotools():
    mask_utils = pytest.importorskip("pycocotools.mask", reason="pycocotools is only a cross-check")
    for mask in random_masks(200, seed=1):
        rle = coco_rle.encode(mask)
        height, width = mask.shape
        compressed = mask_utils.frPyObjects(rle, height, width)
        np.testing.assert_array_equal(mask_utils.decode(compressed), mask)
        assert coco_rle.area(rle) == int(mask_utils.area(compressed)) == int(mask.sum())
        if mask.any():
            assert coco_rle.bbox(rle) == mask_utils.toBbox(compressed).astype(int).tolist()
        # and what pycocotools encodes, decodes the same here
        theirs = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        np.testing.assert_array_equal(mask_utils.decode(theirs), coco_rle.decode(rle))


def test_bbox_of_runs_spanning_columns():
    mask = np.zeros((5, 4), dtype=bool)
    mask[3:, 1] = True
    mask[:2, 2] = True  # one run from the bottom of column 1 into the top of column 2
    assert coco_rle.encode(mask)["counts"] == [8, 4, 8]
    assert coco_rle.bbox(coco_rle.encode(mask)) == [1, 0, 2, 5]
    assert coco_rle.bbox(coco_rle.encode(np.zeros((3, 3), dtype=bool))) == [0, 0, 0, 0]


def test_encode_labels_equals_encode_of_each_label():
    rng = np.random.default_rng(2)
    for _ in range(50):
        labels = rng.integers(0, 5, size=rng.integers(1, 20, size=2)) * (rng.random() < 0.9)
        encoded = coco_rle.encode_labels(labels)
        assert sorted(encoded) == sorted(set(np.unique(labels).tolist()) - {0})
        for label, rle in encoded.items():
            assert rle == coco_rle.encode(labels == label)


def test_label_boxes_and_areas():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(3, 9, 7)) * (rng.random((3, 9, 7)) < 0.3)  # [T, H, W]
    labels[1] = 0  # a frame without any label
    boxes, areas = coco_rle.label_boxes(labels, 4)
    assert boxes.shape == (3, 4, 4) and areas.shape == (3, 4)
    for t in range(3):
        for label in range(1, 5):
            rle = coco_rle.encode(labels[t] == label)
            assert boxes[t, label - 1].tolist() == coco_rle.bbox(rle)
            assert areas[t, label - 1] == coco_rle.area(rle)


@pytest.mark.parametrize(
    ("rle", "problem"),
    [
        ({"size": [2, 2], "counts": [1, 2]}, "sum to 3"),
        ({"size": [2, 2], "counts": "abc"}, "compressed"),
        ({"size": [2], "counts": [4]}, "'size'"),
        ({"size": [2, 2], "counts": [5, -1]}, "non-negative"),
        ({"counts": [4]}, "'size' and 'counts'"),
    ],
)
def test_decode_refuses_malformed(rle, problem):
    with pytest.raises(InputError, match=problem) as info:
        coco_rle.decode(rle, subject="layout.json annotations[3]")
    assert str(info.value).startswith("layout.json annotations[3]: ")


def test_encode_refuses_non_2d():
    with pytest.raises(InputError, match="2D"):
        coco_rle.encode(np.zeros((2, 2, 2), dtype=bool))


@given(
    st.integers(1, 24).flatmap(
        lambda h: st.integers(1, 24).flatmap(
            lambda w: st.lists(st.booleans(), min_size=h * w, max_size=h * w).map(
                lambda bits: np.array(bits).reshape(h, w)
            )
        )
    )
)
def test_compressed_counts_read_pycocotools_strings(mask):
    mask_utils = pytest.importorskip("pycocotools.mask")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert coco_rle.compressed_counts(rle["counts"].decode()) == coco_rle.encode(mask)["counts"]


@pytest.mark.parametrize(
    ("segmentation", "problem"),
    [
        ([[-1e300, 0, 10, 0, 10, 5]], "polygon point outside x -24..36, y -16..24"),
        ([[0, 0, 10, 0, float("nan"), 5]], "polygon point outside"),
        ([[0, 0, 10, 0, 10]], "not [x1, y1, x2, y2, ...] with 3+ points"),
        ([[0, 0, 10, 0, "a", 5]], "a value that is not a number"),
        ([[0, 0, 36, 24] * 400], "polygons 48000 px long; at most 256 times"),
        ({"size": [1000000, 1000000], "counts": [10**12]}, "RLE size [1000000, 1000000] differs"),
        ({"size": [8, 12], "counts": [90, -1, 7]}, "'counts' must be run lengths"),
        ({"size": [8, 12], "counts": [95]}, "RLE runs cover 95 pixels, the image 96"),
        ({"size": [8, 12], "counts": "P1P1P1P1P1"}, "RLE runs cover 224 pixels"),
        ({"size": [8, 12], "counts": "0z"}, "the character 'z', outside '0'..'o'"),
        ({"size": [8, 12], "counts": "0P"}, "ends in the middle of a run"),
        ({"size": [8, 12], "counts": "0@"}, "a negative run (-16)"),
        ({"counts": [96]}, "must be polygons or an RLE object"),
    ],
)
def test_hostile_segmentations_are_refused_before_pycocotools(segmentation, problem):
    with pytest.raises(InputError, match=r"layout\.json: annotations\[3\] ") as err:
        coco_rle.check_segmentation(segmentation, 8, 12, "layout.json", "annotations[3]")
    assert problem in str(err.value)


def test_segmentations_of_huge_images_are_refused():
    with pytest.raises(InputError, match="on a 20000x8 image; sides up to 16384"):
        coco_rle.check_segmentation([[0, 0, 1, 0, 1, 1]], 8, 20000, "layout.json", "annotations[0]")
