"""The embedded synthetic sample source: determinism and the stylised facts it promises."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis

from volcast.errors import ConfigError
from volcast.schemas import BAR_COLUMNS, interval_timedelta
from volcast.sources.sample import REGIME_VOL_MULTIPLIER, SampleSource

START = "2024-01-01T00:00:00Z"


def make(
    *, n_bars: int = 6000, seed: int = 7, regime_shift_at: float | None = None
) -> SampleSource:
    return SampleSource(n_bars=n_bars, seed=seed, start=START, regime_shift_at=regime_shift_at)


def log_returns(bars: pd.DataFrame) -> pd.Series:
    return np.log(bars["close"]).diff().dropna()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return make().fetch(symbol="EUR/USD", interval="1h")


def test_schema_and_label(bars: pd.DataFrame) -> None:
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(bars[c].dtype == np.float64 for c in BAR_COLUMNS[1:])
    assert len(bars) == 6000
    assert bars["timestamp"].is_monotonic_increasing
    assert bars["timestamp"].is_unique
    assert bars.attrs["synthetic"] is True
    assert bars["timestamp"].iloc[0] == pd.Timestamp(START)


def test_eurusd_like_prices(bars: pd.DataFrame) -> None:
    assert bars["open"].iloc[0] == 1.08
    assert bars["close"].min() > 0.8
    assert bars["close"].max() < 1.4
    # Hourly EUR/USD moves are of the order of ten pips.
    assert 2e-4 < log_returns(bars).std() < 3e-3


def test_deterministic_under_seed(bars: pd.DataFrame) -> None:
    again = make().fetch(symbol="EUR/USD", interval="1h")
    pd.testing.assert_frame_equal(again, bars)
    other = make(seed=8).fetch(symbol="EUR/USD", interval="1h")
    assert not np.allclose(other["close"], bars["close"])


def test_ohlc_consistent_and_volume_positive(bars: pd.DataFrame) -> None:
    body_low = bars[["open", "close"]].min(axis=1)
    body_high = bars[["open", "close"]].max(axis=1)
    assert (bars["low"] <= body_low).all()
    assert (bars["high"] >= body_high).all()
    assert (bars["low"] > 0).all()
    assert (bars["high"] > bars["low"]).mean() > 0.99
    assert (bars["volume"] > 0).all()


def test_no_bars_in_the_weekend_closure(bars: pd.DataFrame) -> None:
    stamps = bars["timestamp"]
    week_hour = stamps.dt.dayofweek * 24 + stamps.dt.hour
    closed = (week_hour >= 4 * 24 + 22) & (week_hour < 6 * 24 + 22)
    assert not closed.any()
    assert (stamps.dt.dayofweek == 5).sum() == 0
    # ... yet the market is there right up to the close and from the reopen.
    assert ((stamps.dt.dayofweek == 4) & (stamps.dt.hour == 21)).any()
    assert ((stamps.dt.dayofweek == 6) & (stamps.dt.hour == 22)).any()
    gaps = stamps.diff().dropna()
    assert set(gaps.unique()) == {pd.Timedelta(hours=1), pd.Timedelta(hours=49)}


def test_volatility_clustering(bars: pd.DataFrame) -> None:
    squared = log_returns(bars) ** 2
    assert squared.autocorr(1) > 0.05
    # Clustering lasts: the squared-return autocorrelation over lags 1..10 is positive.
    assert np.mean([squared.autocorr(lag) for lag in range(1, 11)]) > 0.03


def test_fat_tails(bars: pd.DataFrame) -> None:
    assert kurtosis(log_returns(bars), fisher=False) > 3.0


def test_intraday_seasonality(bars: pd.DataFrame) -> None:
    moves = log_returns(bars).abs()
    hours = bars["timestamp"].dt.hour.loc[moves.index]
    overlap = moves[(hours >= 13) & (hours < 16)].mean()
    asia = moves[hours < 4].mean()
    assert overlap > 1.5 * asia


def test_regime_shift_raises_volatility(bars: pd.DataFrame) -> None:
    shifted = log_returns(make(regime_shift_at=0.5).fetch(symbol="EUR/USD", interval="1h"))
    plain = log_returns(bars)
    # Same seed, same shocks: identical before the shift, scaled by the multiplier after it.
    np.testing.assert_allclose(shifted.iloc[:2990], plain.iloc[:2990], atol=2e-5)
    ratio = shifted.iloc[3010:].std() / plain.iloc[3010:].std()
    assert ratio == pytest.approx(REGIME_VOL_MULTIPLIER, rel=0.05)
    assert shifted.iloc[3010:].std() > 1.5 * shifted.iloc[:2990].std()


def test_since_returns_the_tail_of_the_full_series(bars: pd.DataFrame) -> None:
    cutoff = bars["timestamp"].iloc[4000]
    tail = make().fetch(symbol="EUR/USD", interval="1h", since=cutoff)
    pd.testing.assert_frame_equal(tail, bars.iloc[4001:].reset_index(drop=True))
    assert tail.attrs["synthetic"] is True


def test_on_raw_receives_synthetic_json() -> None:
    calls: list[tuple[bytes, str]] = []
    source = make(n_bars=50)
    cutoff = pd.Timestamp("2024-01-01T09:00:00Z")
    bars = source.fetch(
        symbol="EUR/USD",
        interval="1h",
        since=cutoff,
        on_raw=lambda data, ext: calls.append((data, ext)),
    )
    assert len(calls) == 1
    payload, ext = calls[0]
    assert ext == "json"
    document = json.loads(payload)
    assert document["synthetic"] is True
    assert document["generator"]["seed"] == 7
    table = document["bars"]
    assert table["columns"] == list(BAR_COLUMNS)
    assert len(table["data"]) == len(bars) == 40
    assert table["data"][0][1:5] == bars.iloc[0, 1:5].tolist()
    assert pd.Timestamp(table["data"][0][0]) == bars["timestamp"].iloc[0]


@pytest.mark.parametrize("interval", ["1min", "15min", "4h", "1d"])
def test_other_intervals_scale(interval: str) -> None:
    bars = make(n_bars=2000, seed=3).fetch(symbol="EUR/USD", interval=interval)
    step = interval_timedelta(interval)
    assert bars["timestamp"].diff().dropna().min() == step
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    hourly = log_returns(make(n_bars=2000, seed=3).fetch(symbol="EUR/USD", interval="1h"))
    ratio = log_returns(bars).std() / hourly.std()
    expected = np.sqrt(step / pd.Timedelta(hours=1))
    assert expected / 2.5 < ratio < expected * 2.5


def test_symbols_differ() -> None:
    eur = make(n_bars=200).fetch(symbol="EUR/USD", interval="1h")
    jpy = make(n_bars=200).fetch(symbol="USD/JPY", interval="1h")
    assert jpy["open"].iloc[0] == 150.0
    assert not np.allclose(log_returns(eur), log_returns(jpy))


@pytest.mark.parametrize(
    "options",
    [{"n_bars": 0}, {"regime_shift_at": 1.5}],
)
def test_invalid_parameters(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        make(**options).fetch(symbol="EUR/USD", interval="1h")  # type: ignore[arg-type]


def test_start_inside_weekend_begins_at_reopen() -> None:
    source = SampleSource(n_bars=5, seed=1, start="2024-01-06T12:00:00", regime_shift_at=None)
    bars = source.fetch(symbol="EUR/USD", interval="1h")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-07T22:00:00Z")
