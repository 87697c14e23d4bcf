"""Pictures for people: sample grids with their legends."""

import numpy as np
import pytest

from ccvs_core.errors import InputError
from ccvs_core.visualize import labelled_grid, make_grid


def test_a_labelled_grid_names_its_rows_and_columns():
    videos = np.full((2, 3, 16, 16, 3), 200, dtype=np.uint8)
    picture = labelled_grid(videos, ["real", "generated"], ["given", "t=1", "t=2"])
    plain = make_grid(videos.repeat(4, axis=2).repeat(4, axis=3))  # 16-px cells enlarged to 64
    assert picture.shape[0] > plain.shape[0] and picture.shape[1] > plain.shape[1]
    top, left = picture.shape[0] - plain.shape[0], picture.shape[1] - plain.shape[1]
    assert np.array_equal(picture[top:, left:], plain)  # the frames, untouched, beside the legend
    assert (picture[top:, :left] < 100).any() and (picture[:top, left:] < 100).any()  # dark text
    with pytest.raises(InputError, match="1 row labels and 0 column labels for 2 x 3 cells"):
        labelled_grid(videos, ["real"])
