"""The examples in `connectors` docstrings run (pytest collects doctests in `streamal` only)."""

import doctest

import pytest

import connectors.kafka_recording
import connectors.snapshots


@pytest.mark.parametrize("module", [connectors.snapshots, connectors.kafka_recording])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
