"""Fixtures shared by the core's tests (tests/); plugins' tests build theirs from ``ccvs_core.testing``."""

import pytest


@pytest.fixture(scope="session")
def stage1(tmp_path_factory):
    """The conformance kit's tiny world: a toyworld (10 videos of 6 frames) and a tiny autoencoder
    trained two steps on it, exported; as (data folder, autoencoder folder)."""
    from ccvs_core.testing import tiny_world

    world = tiny_world(tmp_path_factory)
    return world.data, world.autoencoder
