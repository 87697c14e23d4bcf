"""Fixtures shared by the core's tests (tests/) and the plugins' tests (plugins/*/tests/)."""

import pytest


@pytest.fixture(scope="session")
def stage1(tmp_path_factory):
    """A tiny toyworld (10 videos of 6 frames) and a tiny autoencoder trained two steps on it, exported."""
    from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
    from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run

    root = tmp_path_factory.mktemp("stage1")
    data = root / "toyworld"
    generate_toyworld(ToyworldConfig(videos=10, frames=6, size=32, seed=5), data, workers=1, progress=False)
    run = plan_run(root / "ae", "tiny", {"training": {"steps": 2}})
    AutoencoderTrainer(run, data, root / "ae", progress=False).fit()
    return data, root / "ae" / "autoencoder"
