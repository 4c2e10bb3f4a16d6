"""The Series value: slug, model name, layout, validation."""

from __future__ import annotations

import pytest

from volcast.errors import ConfigError
from volcast.series import Series


def test_spellings_of_one_symbol_share_slug_key_and_model_name() -> None:
    a, b = Series("EUR/USD", "1h"), Series("eur-usd", "1h")
    assert a.slug == b.slug == "eurusd"
    assert a.key == b.key == ("eurusd", "1h")
    assert a.model_name == b.model_name == "volcast-eurusd-1h"
    assert a != b  # the spelling is kept for display


def test_layout_and_monitoring_dir_follow_the_slug() -> None:
    series = Series("BTC/USD", "15min")
    assert series.layout.curated_bars == "curated/btcusd/15min/bars.parquet"
    assert series.layout.monitoring_dir == "monitoring/btcusd/15min"
    assert str(series) == "BTC/USD 15min"


@pytest.mark.parametrize(
    ("symbol", "interval", "message"),
    [("/", "1h", "no letters or digits"), ("EUR/USD", "1 hour", "unknown interval")],
)
def test_invalid_series_is_refused_on_construction(
    symbol: str, interval: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Series(symbol, interval)
