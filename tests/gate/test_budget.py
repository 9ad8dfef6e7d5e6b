import pytest

from sqz.errors import BudgetError
from sqz.gate.budget import parse_budget


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0.5MB", 500_000),
        ("512KiB", 524_288),
        ("500000", 500_000),
        ("1MiB", 1_048_576),
        ("500 kb", 500_000),
        ("2e5B", 200_000),
        (123, 123),
    ],
)
def test_units(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "1e99", "0", "", "5 parsecs", "nan", "0.5 MBB"])
def test_unusable_budgets(text):
    with pytest.raises(BudgetError):
        parse_budget(text)
