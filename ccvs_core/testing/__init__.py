"""The conformance kit: the checks every condition plugin runs in its own tests, with one class.

In a plugin's tests (pytest)::

    from ccvs_core.testing import ConditionConformance

    class TestSpeed(ConditionConformance):
        condition = "speed"                       # the registered name
        config = {"bins": 4}                      # a tiny config (fields of its config class)
        bad_values = ["fast", "-1"]               # --cond speed:VALUE values parse must refuse

        def cli_value(self, world, folder):       # a --cond speed:VALUE that works
            return "2.5"

Each check is a test named after it (``test_spec``, ``test_from_sample``, ``test_tokenize``,
``test_alignment``, ``test_training_tokens``, ``test_layout``, ``test_transformer``,
``test_save_load``, ``test_generate_cli``, ``test_parse_errors``, ``test_measures``) and fails with a
``ConformanceError`` whose message starts with the check's name. They run on a tiny toyworld and a
tiny autoencoder built once per pytest run (``tiny_world``). A plugin whose input is not in
toyworld, or that needs a trained helper model, overrides ``raw_input`` (its input from a clip) and
``prepare_config`` (e.g. train its helper and return the config that points at it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ccvs_core.conditions import Condition
from ccvs_core.data.clips import Clip
from ccvs_core.testing.checks import (
    CHECKS,
    ConformanceError,
    Prepared,
    check_alignment,
    check_from_sample,
    check_generate_cli,
    check_layout,
    check_measures,
    check_parse_errors,
    check_registered,
    check_save_load,
    check_tokenize,
    check_training_tokens,
    check_transformer,
    prepare,
)
from ccvs_core.testing.world import World, first_frame, generate_cli, run_cli, tiny_world, train_pipeline

__all__ = [
    "CHECKS",
    "ConditionConformance",
    "ConformanceError",
    "World",
    "first_frame",
    "generate_cli",
    "run_checks",
    "run_cli",
    "tiny_world",
    "train_pipeline",
]


class ConditionConformance:
    """Subclass it in a plugin's tests (module docstring); set ``condition`` and implement ``cli_value``."""

    condition: str = ""
    config: dict[str, Any] = {}  # noqa: RUF012 - a class-level declaration the subclass replaces
    bad_values: list[str] = []  # noqa: RUF012
    frames_to_generate = 3

    # what the plugin tells the kit -------------------------------------------------------------------

    def prepare_config(self, world: World, folder: Path) -> dict[str, Any]:
        """The config values to train with (default: ``config``); build helper models in ``folder``."""
        return dict(self.config)

    def raw_input(self, condition: Condition, clip: Clip) -> Any:
        """The condition's raw input for a toyworld clip (default: ``from_sample``)."""
        return condition.from_sample(clip)

    def cli_value(self, world: World, folder: Path) -> str:
        """A VALUE that ``--cond NAME:VALUE`` accepts (write any file it needs in ``folder``)."""
        raise NotImplementedError("a ConditionConformance subclass must implement cli_value()")

    # fixtures -----------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def world(cls, tmp_path_factory) -> World:
        return tiny_world(tmp_path_factory)

    @pytest.fixture(scope="class")
    @classmethod
    def prepared(cls, world, tmp_path_factory) -> Prepared:
        return prepare(cls(), world, tmp_path_factory.mktemp(f"conformance-{cls.condition}"))

    # the checks ---------------------------------------------------------------------------------------

    def test_spec(self):
        check_registered(self)

    def test_from_sample(self, prepared):
        check_from_sample(self, prepared)

    def test_tokenize(self, prepared):
        check_tokenize(prepared)

    def test_alignment(self, prepared):
        check_alignment(prepared)

    def test_training_tokens(self, prepared):
        check_training_tokens(prepared)

    def test_layout(self, prepared):
        check_layout(prepared)

    def test_transformer(self, prepared):
        check_transformer(prepared)

    def test_save_load(self, prepared, tmp_path):
        check_save_load(prepared, tmp_path)

    def test_generate_cli(self, prepared, tmp_path):
        check_generate_cli(self, prepared, tmp_path)

    def test_parse_errors(self, prepared):
        check_parse_errors(self, prepared)

    def test_measures(self, prepared):
        check_measures(prepared)


def run_checks(suite: ConditionConformance, world: World, folder: Path) -> dict[str, str]:
    """Every check of ``suite`` in order: ``{check: its failure}`` (empty when the condition conforms)."""
    failures: dict[str, str] = {}
    try:
        check_registered(suite)
        prepared = prepare(suite, world, folder / "prepare")
    except ConformanceError as err:
        return {str(err).split(":")[0]: str(err)}
    checks = {
        "from_sample": lambda: check_from_sample(suite, prepared),
        "tokenize": lambda: check_tokenize(prepared),
        "alignment": lambda: check_alignment(prepared),
        "training_tokens": lambda: check_training_tokens(prepared),
        "layout": lambda: check_layout(prepared),
        "transformer": lambda: check_transformer(prepared),
        "save_load": lambda: check_save_load(prepared, folder / "save_load"),
        "generate_cli": lambda: check_generate_cli(suite, prepared, folder / "generate_cli"),
        "parse_errors": lambda: check_parse_errors(suite, prepared),
        "measures": lambda: check_measures(prepared),
    }
    for name, check in checks.items():
        try:
            check()
        except ConformanceError as err:
            failures[name] = str(err)
    return failures
