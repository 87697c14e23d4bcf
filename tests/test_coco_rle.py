"""COCO uncompressed RLE: round trips, agreement with pycocotools, boxes and areas."""

from __future__ import annotations

import numpy as np
import pytest

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
