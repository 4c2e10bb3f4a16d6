"""The hour-of-week HAR on a session clock: its calendar, and a textbook twin written here.

The textbook twin reads the real EUR/USD hourly bars bundled with ``backtesting`` (offline),
follows Corsi's HAR-RV on log Garman-Klass variance plus one dummy per New York hour of the
week of the forecast bar, with numpy only, and shares no code with ``volcast.models``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD  # type: ignore[import-untyped]

from volcast.config import FeatureParams, TargetParams, TrainParams
from volcast.errors import ModelError
from volcast.evaluation.backtest import labelled_rows
from volcast.features import build_dataset
from volcast.models import HarModel, WeeklyHarModel, make_model
from volcast.models.har import seasonal_design

N_TRAIN = 3000
WINDOWS = (1, 24, 168)


def _qlike(y: np.ndarray, f: np.ndarray) -> float:
    ratio = y / f
    return float(np.mean(ratio - np.log(ratio) - 1.0))


def test_the_hour_of_week_is_read_on_the_session_clock_across_daylight_saving() -> None:
    # Fridays 12:00 UTC, forecasting 13:00 UTC: 09:00 in New York in July (EDT, UTC-4),
    # 08:00 in December (EST, UTC-5): the payrolls hour moves in UTC, not on the session clock
    stamps = pd.Series(pd.to_datetime(["2017-07-07 12:00", "2017-12-01 12:00"], utc=True))
    design = seasonal_design(
        stamps, interval="1h", horizon=1, season="week", clock="America/New_York"
    )
    assert design.shape == (2, 167)
    friday = 4 * 24
    assert design.loc[0, f"how_{friday + 9}"] == 1.0
    assert design.loc[1, f"how_{friday + 8}"] == 1.0
    assert design.sum(axis=1).tolist() == [1.0, 1.0]
    # the additive UTC design sees the same hour in both
    utc = seasonal_design(stamps, interval="1h", horizon=1)
    assert utc["hour_13"].tolist() == [1.0, 1.0]
    # on daily bars there is no hour of the week: the weekday dummies, as for `har`
    days = seasonal_design(stamps, interval="1d", horizon=1, season="week")
    assert list(days.columns) == [f"dow_{d}" for d in range(1, 7)]


def test_a_bad_season_or_clock_is_named() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC"),
            "har_rv_1": np.linspace(1.0, 2.0, 50),
        }
    )
    y = pd.Series(np.linspace(1.0, 2.0, 50))
    with pytest.raises(ModelError, match="season"):
        HarModel(season="month").fit(frame, y)
    with pytest.raises(ModelError, match="Mars/Olympus"):
        WeeklyHarModel(clock="Mars/Olympus").fit(frame, y)


def test_it_is_a_candidate_and_a_baseline() -> None:
    model = make_model("har_weekly", params=TrainParams(), interval="1h")
    assert isinstance(model, WeeklyHarModel)
    assert (model.season, model.clock) == ("week", "America/New_York")
    from volcast.models import BASELINES, COMBINATION_MEMBERS

    assert "har_weekly" in BASELINES
    assert "har_weekly" in COMBINATION_MEMBERS


@pytest.fixture(scope="module")
def eurusd() -> dict[str, object]:
    stamps = pd.DatetimeIndex(EURUSD.index).tz_localize("UTC")
    bars = pd.DataFrame(
        {
            "timestamp": stamps,
            **{k.lower(): EURUSD[k].to_numpy() for k in ("Open", "High", "Low", "Close")},
        }
    )
    features = FeatureParams(har_windows=WINDOWS)
    dataset = build_dataset(bars, features=features, target=TargetParams(), interval="1h")
    floor = float(dataset["rv"].min())
    frame = labelled_rows(dataset)
    o, h, low, c = (np.log(bars[k].to_numpy()) for k in ("open", "high", "low", "close"))
    gk = np.maximum(0.5 * (h - low) ** 2 - (2.0 * math.log(2.0) - 1.0) * (c - o) ** 2, floor)
    position = pd.Series(np.arange(len(bars)), index=bars["timestamp"])
    rows = position.reindex(frame["timestamp"]).to_numpy()
    return {"bars": bars, "frame": frame, "gk": gk, "rows": rows}


def _textbook_weekly_har(data: dict[str, object]) -> np.ndarray:
    """log RV(t+1) on log RV(t) and the logs of the day and week average RV, plus a dummy per
    New York hour of the week of t + 1 hour; OLS; forecast exp(fit + s^2 / 2)."""
    gk, rows, bars = data["gk"], data["rows"], data["bars"]
    assert isinstance(gk, np.ndarray)
    assert isinstance(rows, np.ndarray)
    assert isinstance(bars, pd.DataFrame)
    rv = pd.Series(gk)
    columns = [np.ones(len(gk))] + [np.log(rv.rolling(w).mean().to_numpy()) for w in WINDOWS]
    local = (bars["timestamp"] + pd.Timedelta(hours=1)).dt.tz_convert("America/New_York")
    hour_of_week = (local.dt.dayofweek * 24 + local.dt.hour).to_numpy()
    columns += [(hour_of_week == k).astype(float) for k in range(1, 168)]
    design = np.column_stack(columns)
    y = np.log(np.append(gk[1:], np.nan))
    train_rows, test_rows = rows[:N_TRAIN], rows[N_TRAIN:]
    keep = design[train_rows].std(axis=0) > 0  # hours FX never trades (the weekend)
    keep[0] = True
    X = design[:, keep]
    beta, *_ = np.linalg.lstsq(X[train_rows], y[train_rows], rcond=None)
    resid = y[train_rows] - X[train_rows] @ beta
    s2 = float(resid @ resid) / (len(train_rows) - X.shape[1])
    forecast: np.ndarray = np.exp(X[test_rows] @ beta + 0.5 * s2)
    return forecast


def test_weekly_har_matches_the_textbook_on_real_fx_and_beats_the_utc_calendar(
    eurusd: dict[str, object],
) -> None:
    frame = eurusd["frame"]
    assert isinstance(frame, pd.DataFrame)
    train, test = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:]
    X_train, y_train = train.drop(columns=["target"]), train["target"]
    y_test = test["target"].to_numpy()
    ours = WeeklyHarModel(interval="1h").fit(X_train, y_train).predict(test)
    theirs = _textbook_weekly_har(eurusd)
    assert _qlike(y_test, ours) == pytest.approx(_qlike(y_test, theirs), rel=0.01)
    # bar by bar, to the residual variance's degrees of freedom (volcast counts the dummies
    # of the weekend hours FX never trades, the twin drops them: a uniform 0.5 %)
    np.testing.assert_allclose(ours, theirs, rtol=1e-2)
    # the reason it exists: on FX the session calendar forecasts better than UTC hours
    utc = HarModel(interval="1h").fit(X_train, y_train).predict(test)
    assert _qlike(y_test, ours) < 0.97 * _qlike(y_test, utc)
