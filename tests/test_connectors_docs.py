"""The examples in `connectors` docstrings run (pytest collects doctests in `streamal` only)."""

import doctest

import pytest

import streamal.connectors.kafka
import streamal.connectors.kafka_recording
import streamal.connectors.queries_log
import streamal.connectors.snapshots


@pytest.mark.parametrize(
    "module",
    [
        streamal.connectors.snapshots,
        streamal.connectors.kafka_recording,
        streamal.connectors.kafka,
        streamal.connectors.queries_log,
    ],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
