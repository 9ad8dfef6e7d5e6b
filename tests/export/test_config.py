"""ExportConfig checks its options when it is made, so the Python API refuses what the CLI refuses, before any work."""

import pytest

from sqz.errors import BudgetError, InputError
from sqz.export.config import ExportConfig


@pytest.mark.parametrize(
    "options, says",
    [
        ({"target": "bogus"}, "unknown target 'bogus'; choose one of"),
        ({"target": "rpi1"}, "is not supported"),
        ({"ranges": "median"}, "--ranges 'median'"),
        ({"weights": "int3"}, "--weights 'int3'"),
    ],
)
def test_bad_options_are_one_line_input_errors(options, says):
    with pytest.raises(InputError, match=says):
        ExportConfig(**options)


def test_a_budget_that_does_not_parse_is_a_budget_error():
    with pytest.raises(BudgetError, match="lots"):
        ExportConfig(budget="lots")


def test_a_known_target_is_taken():
    assert ExportConfig(target="nano33ble").target == "nano33ble"
