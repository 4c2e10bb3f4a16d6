"""volcast's baselines against straightforward textbook implementations written here.

Each independent implementation reads the raw bars of the S&P 500 daily data bundled with
``arch`` (real data, offline), follows the published formula with numpy and ``arch`` only,
and shares no code with ``volcast.models``. Both are fitted on the same first 3,000 days and
forecast the remaining ~2,000 one step ahead; the QLIKE of volcast's forecasts must be within
1 % of the textbook one's on the same realized values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.data import sp500

from volcast.config import FeatureParams, TargetParams
from volcast.evaluation.backtest import labelled_rows
from volcast.features import build_dataset
from volcast.models import EwmaModel, GarchModel, HarModel

N_TRAIN = 3000
WINDOWS = (1, 5, 22)  # Corsi's day, week, month on daily bars


def _qlike(y: np.ndarray, f: np.ndarray) -> float:
    ratio = y / f
    return float(np.mean(ratio - np.log(ratio) - 1.0))


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    raw = sp500.load()
    bars = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(raw.index).tz_localize("UTC"),
            "open": raw["Open"].to_numpy(),
            "high": raw["High"].to_numpy(),
            "low": raw["Low"].to_numpy(),
            "close": raw["Close"].to_numpy(),
        }
    )
    features = FeatureParams(lags=5, windows=(5, 22), weekly_window=5, har_windows=WINDOWS)
    dataset = build_dataset(bars, features=features, target=TargetParams(), interval="1d")
    floor = float(dataset["rv"].min())
    frame = labelled_rows(dataset)
    # the textbook series, from the bars: Garman-Klass (1980) variance, floored alike
    o, h, low, c = (np.log(bars[k].to_numpy()) for k in ("open", "high", "low", "close"))
    gk = 0.5 * (h - low) ** 2 - (2.0 * math.log(2.0) - 1.0) * (c - o) ** 2
    gk = np.maximum(gk, floor)
    returns = np.concatenate([[np.nan], np.diff(c)])
    # dataset rows are bars from the warm-up on: map them back to bar positions
    position = pd.Series(np.arange(len(bars)), index=bars["timestamp"])
    rows = position.reindex(frame["timestamp"]).to_numpy()
    return {"bars": bars, "frame": frame, "gk": gk, "returns": returns, "rows": rows}


def _split(data: dict[str, object]) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, np.ndarray]:
    frame = data["frame"]
    assert isinstance(frame, pd.DataFrame)
    train, test = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:]
    return (
        train.drop(columns=["target"]),
        train["target"],
        frame.drop(columns=["target"]),
        test["target"].to_numpy(),
    )


def _textbook_har(data: dict[str, object], *, seasonal: bool) -> np.ndarray:
    """Corsi (2009) HAR-RV on logs: log RV(t+1) on log RV(t) and the log of the weekly and
    monthly average RV, OLS, forecast exp(fit + s^2 / 2); seasonal: plus weekday dummies of
    the forecast day."""
    gk, rows, bars = data["gk"], data["rows"], data["bars"]
    assert isinstance(gk, np.ndarray)
    assert isinstance(rows, np.ndarray)
    assert isinstance(bars, pd.DataFrame)
    rv = pd.Series(gk)
    columns = [np.ones(len(gk))] + [np.log(rv.rolling(w).mean().to_numpy()) for w in WINDOWS]
    if seasonal:
        # the forecast day is the next calendar day of the daily bar, as volcast's timestamps
        day = (bars["timestamp"] + pd.Timedelta(days=1)).dt.dayofweek.to_numpy()
        columns += [(day == d).astype(float) for d in range(1, 7)]
    design = np.column_stack(columns)
    y = np.log(np.append(gk[1:], np.nan))
    train_rows, test_rows = rows[:N_TRAIN], rows[N_TRAIN:]
    keep = np.ones(design.shape[1], dtype=bool)
    keep &= design[train_rows].std(axis=0) > 0  # drop weekday dummies that never occur
    keep[0] = True
    X = design[:, keep]
    beta, *_ = np.linalg.lstsq(X[train_rows], y[train_rows], rcond=None)
    resid = y[train_rows] - X[train_rows] @ beta
    s2 = float(resid @ resid) / (len(train_rows) - X.shape[1])
    return np.exp(X[test_rows] @ beta + 0.5 * s2)


@pytest.mark.parametrize("seasonal", [False, True])
def test_har_matches_the_textbook_har(data: dict[str, object], seasonal: bool) -> None:
    X_train, y_train, X_all, y_test = _split(data)
    model = HarModel(interval="1d", seasonal=seasonal).fit(X_train, y_train)
    ours = model.predict(X_all.iloc[N_TRAIN:])
    theirs = _textbook_har(data, seasonal=seasonal)
    assert _qlike(y_test, ours) == pytest.approx(_qlike(y_test, theirs), rel=0.01)
    # the same regression: forecasts agree bar by bar, not only on average (to the residual
    # variance's degrees-of-freedom convention)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3)


def test_garch_t_matches_the_textbook_garch_t(data: dict[str, object]) -> None:
    """GARCH(1,1) with Student-t errors (Bollerslev 1986, 1987) fitted by ``arch`` directly,
    one-step variance by the recursion, scaled to the target's level in sample."""
    X_train, y_train, X_all, y_test = _split(data)
    model = GarchModel().fit(X_train, y_train)
    assert model.dist == "t"
    assert model.coefficients()["nu"] > 2.0
    ours = model.predict(X_all)[N_TRAIN:]

    returns, rows = data["returns"], data["rows"]
    assert isinstance(returns, np.ndarray)
    assert isinstance(rows, np.ndarray)
    r = 100.0 * returns[rows]  # percent returns of the dataset's bars
    train_r = r[:N_TRAIN][np.isfinite(r[:N_TRAIN])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = arch_model(train_r, mean="Zero", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    omega, alpha, beta = (float(fit.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
    sigma2 = np.empty(len(r))
    level = omega / (1.0 - alpha - beta)
    for t, value in enumerate(np.nan_to_num(r)):
        level = omega + alpha * value**2 + beta * level  # variance of bar t+1, known at t
        sigma2[t] = level
    y_train_values = y_train.to_numpy()
    scale = np.mean(y_train_values / (sigma2[:N_TRAIN] / 1e4))
    theirs = scale * sigma2[N_TRAIN:] / 1e4
    assert _qlike(y_test, ours) == pytest.approx(_qlike(y_test, theirs), rel=0.01)


def test_ewma_matches_the_riskmetrics_recursion(data: dict[str, object]) -> None:
    """RiskMetrics (1996): s(t) = 0.94 s(t-1) + 0.06 x(t), on the floored per-bar variance."""
    X_train, y_train, X_all, y_test = _split(data)
    ours = EwmaModel(lam=0.94).fit(X_train, y_train).predict(X_all)[N_TRAIN:]
    rv = X_all["rv"].to_numpy()
    level = float(np.mean(X_train["rv"].to_numpy()))
    path = np.empty(len(rv))
    for t, value in enumerate(rv):
        level = 0.94 * level + 0.06 * value
        path[t] = level
    theirs = path[N_TRAIN:]
    assert _qlike(y_test, ours) == pytest.approx(_qlike(y_test, theirs), rel=0.01)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
