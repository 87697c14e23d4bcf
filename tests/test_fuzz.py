"""The fuzz suite's short run: a few seconds of hostile cases per target (benchmarks/fuzz.py runs
thousands). Only the toolkit's own errors may come out: no traceback, crash, hang or partial file."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz_targets import TARGETS, run_case


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@settings(max_examples=12, deadline=None, database=None, derandomize=True)  # the same cases on every CI run
@given(seed=st.integers(0, 2**32 - 1))
def test_hostile_inputs_get_the_toolkits_errors(target, seed, tmp_path_factory):
    failure = run_case(target, seed, tmp_path_factory.mktemp("case"))
    assert failure is None, f"{target.name}, case {seed}:\n{failure}"
