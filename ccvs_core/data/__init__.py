"""Datasets in the ccvs folder format (docs/dataset-format.md): reading, checking, importing, toyworld."""

from ccvs_core.data.check import DatasetReport, check_dataset
from ccvs_core.data.clips import Clip, ClipBatch, ClipDataset, FrameGeometry, collate_clips

__all__ = [
    "Clip",
    "ClipBatch",
    "ClipDataset",
    "DatasetReport",
    "FrameGeometry",
    "check_dataset",
    "collate_clips",
]
