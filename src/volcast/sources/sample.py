"""The embedded offline ``sample`` source: SYNTHETIC FX-like bars from a seeded generator.

Nothing here is market data. The generator exists so the whole pipeline runs with no network
and no key, on data with the features that make volatility forecasting hard:

* volatility clustering: log-variance is the sum of a fast and a slow AR(1) component driven
  by the previous bar's absolute shock (an EGARCH-type recursion, linear in log-variance, so
  ``scipy.signal.lfilter`` runs it for millions of bars at C speed) plus its own noise;
* fat tails: Student-t shocks (6 degrees of freedom, unit variance);
* intraday seasonality: a UTC hour-of-day volatility profile, quiet in the Asian session,
  peaking at the London open and the London/New York overlap (13:00-16:00 UTC);
* weekend gaps: FX closes Friday 22:00 UTC and reopens Sunday 22:00 UTC; no bar starts in
  between, and the first bar after the weekend opens away from the last close;
* an optional regime shift: volatility times :data:`REGIME_VOL_MULTIPLIER` from a fraction of
  the series on (for drift demos);
* OHLC from a Brownian bridge of intrabar sub-steps, so ``low <= open, close <= high`` always,
  and a positive tick-volume-like volume that rises with volatility.

Parameters are set per hour and rescaled for other intervals (persistence by half-life in
time, variance by bar length), so ``1min`` to ``1d`` bars are all plausible. Every frame
carries ``attrs["synthetic"] = True`` and every raw payload ``"synthetic": true``.
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter
from scipy.special import gammaln

from volcast.errors import ConfigError
from volcast.schemas import BAR_COLUMNS, TIMESTAMP, interval_seconds, slugify
from volcast.sources.base import RawSink, discard_raw

REGIME_VOL_MULTIPLIER: Final = 2.5
"""Volatility (not variance) multiplier after ``regime_shift_at``."""

BASE_PRICES: Final = {
    "eurusd": 1.08,
    "gbpusd": 1.27,
    "usdjpy": 150.0,
    "audusd": 0.66,
    "usdchf": 0.88,
    "usdcad": 1.36,
    "btcusd": 60000.0,
}
"""Starting price by symbol slug; other symbols start at 100."""

_DEFAULT_PRICE: Final = 100.0
_HOURLY_VOL: Final = 0.0009  # about 7% a year over FX trading hours, like EUR/USD
_TICKS_PER_HOUR: Final = 2500.0
_T_DOF: Final = 6.0
_SUBSTEPS: Final = 8
_CHUNK: Final = 250_000

# Volatility multiplier by UTC hour: Asia quiet, London open (07-09), NY open and the
# London/NY overlap (12-16) busiest, thin around the 21-22 UTC rollover.
_HOUR_PROFILE: Final = np.array(
    [0.65, 0.60, 0.60, 0.62, 0.68, 0.75, 0.85, 1.20, 1.35, 1.25, 1.10, 1.05,
     1.30, 1.55, 1.60, 1.45, 1.20, 0.95, 0.80, 0.70, 0.60, 0.50, 0.55, 0.62]
)  # fmt: skip

# Log-variance components per hourly bar: (persistence, weight of |shock|, own noise).
_FAST: Final = (0.95, 0.16, 0.12)
_SLOW: Final = (0.995, 0.03, 0.04)

_DAY: Final = 86400
_WEEK: Final = 7 * _DAY
_MONDAY_EPOCH: Final = 4 * _DAY  # 1970-01-05 was a Monday
_CLOSE_FRI: Final = 4 * _DAY + 22 * 3600
_OPEN_SUN: Final = 6 * _DAY + 22 * 3600


class SampleSource:
    """SYNTHETIC hourly (or any interval) FX-like bars; deterministic under ``seed``.

    ``n_bars`` bars are generated from ``start`` (ISO-8601; naive means UTC) for every
    request, and :meth:`fetch` returns those strictly after ``since``, so an incremental fetch
    sees exactly the bars of the full series. The symbol picks the starting price
    (:data:`BASE_PRICES`) and is mixed into the seed, so two symbols get different paths.
    ``regime_shift_at`` (a fraction in [0, 1], or None for no shift) is where volatility
    jumps by :data:`REGIME_VOL_MULTIPLIER`.
    """

    name = "sample"
    live = False

    def __init__(
        self, *, n_bars: int, seed: int, start: str, regime_shift_at: float | None
    ) -> None:
        self.n_bars = n_bars
        self.seed = seed
        self.start = start
        self.regime_shift_at = regime_shift_at

    def fetch(
        self,
        *,
        symbol: str,
        interval: str = "1h",
        since: pd.Timestamp | None = None,
        on_raw: RawSink = discard_raw,
    ) -> pd.DataFrame:
        """The generated bars strictly after ``since``, labelled synthetic.

        ``on_raw`` receives the returned bars as JSON (``"synthetic": true``, the generator
        parameters, and the bars in pandas' ``split`` layout); it is skipped for the default
        :func:`discard_raw`, which saves serialising millions of bars for nothing.
        """
        bars = self.generate(symbol=symbol, interval=interval)
        if since is not None:
            cutoff = since.tz_localize("UTC") if since.tzinfo is None else since.tz_convert("UTC")
            bars = bars.loc[bars[TIMESTAMP] > cutoff].reset_index(drop=True)
            bars.attrs["synthetic"] = True
        if on_raw is not discard_raw:
            on_raw(self._payload(bars, symbol=symbol, interval=interval), "json")
        return bars

    def generate(self, *, symbol: str, interval: str = "1h") -> pd.DataFrame:
        """The full synthetic series of ``n_bars`` bars (BAR_COLUMNS, ascending, UTC)."""
        step = interval_seconds(interval)
        n = self.n_bars
        if n < 1:
            raise ConfigError(f"sample n_bars must be >= 1, got {n}")
        shift = self.regime_shift_at
        if shift is not None and not 0.0 <= shift <= 1.0:
            raise ConfigError(f"sample regime_shift_at must be within [0, 1], got {shift}")
        slug = slugify(symbol)
        rng = np.random.default_rng([self.seed, zlib.crc32(slug.encode())])

        seconds = _open_bar_starts(self._start_seconds(), step, n)
        hours = step / 3600.0
        shocks = rng.standard_t(_T_DOF, size=n) * math.sqrt((_T_DOF - 2.0) / _T_DOF)
        log_var = _log_variance(shocks, rng, hours=hours)
        log_var += np.log(_HOURLY_VOL**2 * hours) + np.log(_seasonal_variance(seconds, step))
        if shift is not None:
            log_var[round(shift * n) :] += 2.0 * math.log(REGIME_VOL_MULTIPLIER)
        sigma = np.exp(0.5 * log_var)
        returns = sigma * shocks

        # A weekend (a gap longer than one bar) moves the open away from the last close.
        gaps = np.zeros(n)
        reopen = np.flatnonzero(np.diff(seconds) > step) + 1
        gaps[reopen] = 1.5 * sigma[reopen] * rng.standard_normal(len(reopen))

        base = BASE_PRICES.get(slug, _DEFAULT_PRICE)
        log_close = math.log(base) + np.cumsum(returns + gaps)
        log_open = log_close - returns
        high_rel, low_rel = _intrabar_extremes(returns, sigma, rng)
        decimals = max(0, 5 - math.floor(math.log10(base)))
        volume = np.maximum(
            1.0,
            np.round(
                _TICKS_PER_HOUR
                * hours
                * (sigma / (_HOURLY_VOL * math.sqrt(hours)))
                * rng.lognormal(0.0, 0.3, size=n)
            ),
        )
        bars = pd.DataFrame(
            {
                TIMESTAMP: pd.to_datetime(seconds, unit="s", utc=True).astype(
                    "datetime64[ns, UTC]"
                ),
                # Rounding is monotonic, so it keeps low <= open, close <= high.
                "open": np.round(np.exp(log_open), decimals),
                "high": np.round(np.exp(log_open + high_rel), decimals),
                "low": np.round(np.exp(log_open + low_rel), decimals),
                "close": np.round(np.exp(log_close), decimals),
                "volume": volume,
            },
            columns=list(BAR_COLUMNS),
        )
        bars.attrs["synthetic"] = True
        return bars

    def _start_seconds(self) -> int:
        try:
            start = pd.Timestamp(self.start)
        except ValueError as exc:
            raise ConfigError(f"sample start {self.start!r} is not an ISO-8601 time") from exc
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        return int(start.value // 1_000_000_000)

    def _payload(self, bars: pd.DataFrame, *, symbol: str, interval: str) -> bytes:
        meta = json.dumps(
            {
                "synthetic": True,
                "source": self.name,
                "symbol": symbol,
                "interval": interval,
                "generator": {
                    "n_bars": self.n_bars,
                    "seed": self.seed,
                    "start": self.start,
                    "regime_shift_at": self.regime_shift_at,
                },
            }
        )
        table = bars.to_json(orient="split", index=False, date_format="iso", date_unit="s")
        return f'{meta[:-1]}, "bars": {table}}}'.encode()


def _open_bar_starts(start: int, step: int, n: int) -> npt.NDArray[np.int64]:
    """Epoch seconds of the first ``n`` bars from ``start`` that do not start in a weekend."""
    if step >= _WEEK:
        return start + step * np.arange(n, dtype=np.int64)
    size = int(n * 1.45) + _WEEK // step + 2
    while True:
        candidates = start + step * np.arange(size, dtype=np.int64)
        in_week = (candidates - _MONDAY_EPOCH) % _WEEK
        open_ = candidates[(in_week < _CLOSE_FRI) | (in_week >= _OPEN_SUN)]
        if len(open_) >= n:
            return open_[:n]
        size *= 2


def _log_variance(
    shocks: npt.NDArray[np.float64], rng: np.random.Generator, *, hours: float
) -> npt.NDArray[np.float64]:
    """Mean-one (in variance) log-variance multiplier with volatility clustering.

    Each component is ``x[t] = phi * x[t-1] + a * (|z[t-1]| - E|z|) + b * noise[t]``; for
    bars of ``hours`` hours, ``phi`` is the hourly persistence to the power ``hours`` (same
    half-life in time) and ``a``, ``b`` are scaled to keep the component's stationary
    variance.
    """
    dof = _T_DOF
    mean_abs = (
        math.exp(math.log(2.0 * math.sqrt(dof)) + gammaln((dof + 1) / 2) - gammaln(dof / 2))
        / (math.sqrt(math.pi) * (dof - 1))
        * math.sqrt((dof - 2) / dof)
    )
    lagged = np.concatenate(([0.0], np.abs(shocks[:-1]) - mean_abs))
    var_abs = 1.0 - mean_abs**2
    total = np.zeros(len(shocks))
    stationary_var = 0.0
    for phi_hour, a_hour, b_hour in (_FAST, _SLOW):
        phi = phi_hour**hours
        scale = math.sqrt((1.0 - phi**2) / (1.0 - phi_hour**2))
        a, b = a_hour * scale, b_hour * scale
        drive = a * lagged + b * rng.standard_normal(len(shocks))
        total += lfilter([1.0], [1.0, -phi], drive)
        stationary_var += (a**2 * var_abs + b**2) / (1.0 - phi**2)
    # exp of a Gaussian-ish variable has mean exp(var/2): centre so the mean variance is kept.
    result: npt.NDArray[np.float64] = total - 0.5 * stationary_var
    return result


def _seasonal_variance(seconds: npt.NDArray[np.int64], step: int) -> npt.NDArray[np.float64]:
    """Average intraday variance multiplier over each bar (mean one over a day)."""
    if step >= _DAY:
        return np.ones(len(seconds))
    minutes = np.arange(24 * 60) + 0.5
    hour_centres = np.arange(24) + 0.5
    vol = np.interp(minutes / 60.0, hour_centres, _HOUR_PROFILE, period=24.0)
    var = vol**2 / np.mean(vol**2)
    cumulative = np.concatenate(([0.0], np.cumsum(np.concatenate((var, var)))))
    length = max(1, step // 60)
    first = ((seconds % _DAY) // 60).astype(np.int64)
    result: npt.NDArray[np.float64] = (cumulative[first + length] - cumulative[first]) / length
    return result


def _intrabar_extremes(
    returns: npt.NDArray[np.float64], sigma: npt.NDArray[np.float64], rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Log high and low relative to the open, from a Brownian bridge from 0 to each return."""
    n = len(returns)
    high = np.empty(n)
    low = np.empty(n)
    fractions = (np.arange(1, _SUBSTEPS) / _SUBSTEPS).astype(np.float32)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        steps = rng.standard_normal((hi - lo, _SUBSTEPS), dtype=np.float32)
        walk = np.cumsum(steps, axis=1) / np.float32(math.sqrt(_SUBSTEPS))
        bridge = walk[:, :-1] - fractions * walk[:, -1:]
        path = sigma[lo:hi, None] * bridge + fractions * returns[lo:hi, None]
        end = returns[lo:hi]
        high[lo:hi] = np.maximum(np.maximum(path.max(axis=1), 0.0), end)
        low[lo:hi] = np.minimum(np.minimum(path.min(axis=1), 0.0), end)
    return high, low
