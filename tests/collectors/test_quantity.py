from decimal import Decimal

import pytest

from collectors.quantity import QuantityError, cpu_millicores, cpu_nanocores, parse_quantity, to_bytes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("123456n", Decimal("0.000123456")),
        ("1500m", Decimal("1.5")),
        ("2", Decimal(2)),
        ("1234Ki", Decimal(1234 * 1024)),
        ("1.5Gi", Decimal(int(1.5 * 2**30))),
        ("512Mi", Decimal(512 * 2**20)),
        ("1e3", Decimal(1000)),
        ("2E-3", Decimal("0.002")),
        ("100k", Decimal(100_000)),
        ("0", Decimal(0)),
        ("1M", Decimal(1_000_000)),
        (".5", Decimal("0.5")),
        ("+3", Decimal(3)),
    ],
)
def test_it_parses_kubernetes_quantities(text, expected):
    assert parse_quantity(text) == expected


def test_it_converts_to_the_units_kubemon_stores():
    assert cpu_millicores("250m") == 250.0
    assert cpu_millicores("2") == 2000.0
    assert cpu_nanocores("139173580n") == 139173580.0
    assert to_bytes("1048576Ki") == 2**30


@pytest.mark.parametrize("text", ["", "abc", "12 Mi", "1.2.3", "5Kb", "--1", "1e", None, "Mi"])
def test_it_refuses_what_is_not_a_quantity(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)
