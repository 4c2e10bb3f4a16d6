"""Input-drift detection against the reference statistics logged with each model.

:class:`DriftDetector` is a small stateful object in the style of river's detectors:
``update(x)`` feeds one feature row and returns the detector, read-only properties report
the state. It keeps a sliding window of the last ``window`` rows as bin indices (the bins are
the reference quantile bins of :func:`volcast.monitoring.reference.reference_statistics`), so every
update is O(features) and reading PSI is O(features x bins). It holds no locks, no clocks
and no randomness: the same rows give the same state, and it pickles.

A row is *out of distribution* when any feature lies outside the training ``[min, max]``
(or is not finite). Drift is detected once the window holds ``min_samples`` rows and either
the OOD ratio exceeds ``ood_threshold`` or any feature's PSI exceeds ``psi_threshold``
(0.2 is the usual "significant shift" line), or, sooner, when at least ``recent_threshold``
of the last ``recent`` rows are out of distribution: a regime the training data never saw
shows up there within a day of hourly bars, where a 500-row window would need 75 such rows.
Unchanged data rarely does it: the training range is the most extreme of its history, and
a single new extreme bar moves through the lag features for fewer bars than ``recent``
only when ``recent`` exceeds the longest lag, so keep it above that (24 for 24 lags) or
accept such single-bar alarms.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from volcast.errors import ConfigError
from volcast.monitoring.reference import ReferenceStats

PSI_EPSILON: Final = 1e-4
"""Floor of a bin share in PSI, so an empty bin does not make the index infinite."""


class DriftDetector:
    """Sliding-window PSI, mean shift and out-of-distribution ratio of live feature rows.

    ``reference`` is the model's :class:`ReferenceStats`, or the ``reference_stats`` JSON
    document logged with it (read with :meth:`ReferenceStats.from_dict`). ``features`` picks
    and orders the monitored features (default: every feature of the reference with bins);
    rows passed to :meth:`update` are mappings by name or arrays in that order.
    """

    recent: int = 0
    recent_threshold: float = 1.0
    _ood_recent: int = 0

    def __init__(
        self,
        reference: ReferenceStats | Mapping[str, Any],
        *,
        features: Sequence[str] | None = None,
        window: int = 500,
        min_samples: int = 30,
        psi_threshold: float = 0.2,
        ood_threshold: float = 0.15,
        recent: int = 24,
        recent_threshold: float = 0.5,
    ) -> None:
        if window < 1 or min_samples < 1:
            raise ConfigError(f"window ({window}) and min_samples ({min_samples}) must be >= 1")
        if recent < 0 or not 0.0 < recent_threshold <= 1.0:
            raise ConfigError(
                f"recent ({recent}) must be >= 0 and recent_threshold ({recent_threshold}) "
                "in (0, 1]"
            )
        self.recent = min(recent, window)
        self.recent_threshold = recent_threshold
        self._ood_recent = 0
        if not isinstance(reference, ReferenceStats):
            reference = ReferenceStats.from_dict(reference)
        stats = reference.features
        names = list(features) if features is not None else list(stats)
        usable = [n for n in names if n in stats and len(stats[n].bin_edges) >= 2]
        self.feature_names: tuple[str, ...] = tuple(usable)
        self.window = window
        self.min_samples = min_samples
        self.psi_threshold = psi_threshold
        self.ood_threshold = ood_threshold
        self._inner_edges = [np.asarray(stats[n].bin_edges, dtype="float64")[1:-1] for n in usable]
        n_bins = max((len(stats[n].bin_edges) - 1 for n in usable), default=1)
        self._expected = np.full((len(usable), n_bins), np.nan)
        for i, name in enumerate(usable):
            props = np.asarray(stats[name].proportions, dtype="float64")
            self._expected[i, : props.size] = props
        self._n_bins = np.array([len(stats[n].bin_edges) - 1 for n in usable], dtype="int64")
        self._low = np.array([_number(stats[n].min, -np.inf) for n in usable])
        self._high = np.array([_number(stats[n].max, np.inf) for n in usable])
        self._mean = np.array([_number(stats[n].mean, 0.0) for n in usable])
        std = np.array([_number(stats[n].std, 0.0) for n in usable])
        self._std = np.where(std > 0.0, std, 1.0)
        self._counts = np.zeros((len(usable), n_bins), dtype="int64")
        self._sums = np.zeros(len(usable))
        self._finite = np.zeros(len(usable), dtype="int64")
        self._rows: deque[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], bool]] = deque()
        self._ood_in_window = 0
        self.n_seen_ = 0

    def _as_array(self, x: Mapping[str, float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        if isinstance(x, Mapping):
            return np.array([float(x.get(n, np.nan)) for n in self.feature_names])
        values = np.asarray(x, dtype="float64").ravel()
        if values.size != len(self.feature_names):
            raise ConfigError(
                f"drift detector expects {len(self.feature_names)} features, got {values.size}"
            )
        return values

    def update(self, x: Mapping[str, float] | npt.ArrayLike) -> Self:
        """Add one feature row to the window (evicting the oldest beyond ``window``)."""
        values = self._as_array(x)
        finite = np.isfinite(values)
        bins = np.full(values.size, -1, dtype="int64")
        for i, edges in enumerate(self._inner_edges):
            if finite[i]:
                bins[i] = int(np.searchsorted(edges, values[i], side="left"))
        ood = bool(np.any(~finite | (values < self._low) | (values > self._high)))
        clean = np.where(finite, values, 0.0)
        rows = np.flatnonzero(bins >= 0)
        self._counts[rows, bins[rows]] += 1
        self._sums += clean
        self._finite += finite
        self._ood_in_window += ood
        self._rows.append((bins, clean, ood))
        if self.recent:
            self._ood_recent += ood
            if len(self._rows) > self.recent:  # the row leaving the recent stretch
                self._ood_recent -= self._rows[-self.recent - 1][2]
        if len(self._rows) > self.window:
            old_bins, old_clean, old_ood = self._rows.popleft()
            old_rows = np.flatnonzero(old_bins >= 0)
            self._counts[old_rows, old_bins[old_rows]] -= 1
            self._sums -= old_clean
            self._finite -= old_bins >= 0
            self._ood_in_window -= old_ood
        self.n_seen_ += 1
        return self

    @property
    def n_window(self) -> int:
        """Rows currently in the window."""
        return len(self._rows)

    @property
    def ood_ratio(self) -> float:
        """Share of rows in the window with a feature outside the training range (0 if empty)."""
        return self._ood_in_window / len(self._rows) if self._rows else 0.0

    @property
    def recent_ood_ratio(self) -> float:
        """Share of the last ``recent`` rows out of distribution (0 until that many rows)."""
        if not self.recent or len(self._rows) < self.recent:
            return 0.0
        return self._ood_recent / self.recent

    @property
    def psi(self) -> dict[str, float]:
        """Population stability index of each feature over the window (0 while empty)."""
        totals = self._counts.sum(axis=1)
        out: dict[str, float] = {}
        for i, name in enumerate(self.feature_names):
            k = int(self._n_bins[i])
            if totals[i] == 0:
                out[name] = 0.0
                continue
            actual = np.maximum(self._counts[i, :k] / totals[i], PSI_EPSILON)
            expected = np.maximum(self._expected[i, :k], PSI_EPSILON)
            out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return out

    @property
    def mean_shift(self) -> dict[str, float]:
        """Window mean minus training mean, in training standard deviations, per feature."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(self._finite > 0, self._sums / np.maximum(self._finite, 1), np.nan)
        shift = (means - self._mean) / self._std
        return {
            name: float(shift[i]) if np.isfinite(shift[i]) else 0.0
            for i, name in enumerate(self.feature_names)
        }

    @property
    def drift_detected(self) -> bool:
        """Whether most recent rows are out of distribution, or the window is full enough
        and its OOD ratio or any PSI is over threshold."""
        if self.recent and self.recent_ood_ratio >= self.recent_threshold:
            return True
        if len(self._rows) < self.min_samples:
            return False
        if self.ood_ratio > self.ood_threshold:
            return True
        return any(value > self.psi_threshold for value in self.psi.values())

    @property
    def drifted_features(self) -> list[str]:
        """Features whose PSI is over ``psi_threshold`` (empty before ``min_samples`` rows)."""
        if len(self._rows) < self.min_samples:
            return []
        return sorted(n for n, v in self.psi.items() if v > self.psi_threshold)


def _number(value: float | None, default: float) -> float:
    """A reference statistic as float (missing ones are None)."""
    if value is None:
        return default
    number = float(value)
    return number if np.isfinite(number) else default


def history_psi(
    reference: ReferenceStats | Mapping[str, Any],
    rows: pd.DataFrame | Mapping[str, Any],
    *,
    features: Sequence[str],
    window: int,
    stride: int = 24,
) -> float:
    """The largest PSI of any feature over every ``window``-row stretch of ``rows``.

    ``rows`` (a DataFrame or a mapping of columns) is history the model was trained on, so
    the answer is how far a stretch of ordinary history already strays from the whole: a
    volatility regime lasts weeks, and a window of clustered volatility features differs
    from the full-history distribution by a PSI well above the textbook 0.2 (0.25) without
    anything being wrong. Used as the PSI line, drift then means "further than anything in
    training". Computed with cumulative bin counts, bin by bin as :class:`DriftDetector`
    does, at every ``stride``-th window end; 0.0 when ``rows`` are fewer than ``window``.
    """
    if not isinstance(reference, ReferenceStats):
        reference = ReferenceStats.from_dict(reference)
    stats = reference.features
    peak = 0.0
    for name in features:
        if name not in stats or len(stats[name].bin_edges) < 2 or name not in rows:
            continue
        values = np.asarray(rows[name], dtype="float64")
        if values.size < window:
            continue
        edges = np.asarray(stats[name].bin_edges, dtype="float64")
        n_bins = edges.size - 1
        finite = np.isfinite(values)
        bins = np.searchsorted(edges[1:-1], np.where(finite, values, 0.0), side="left")
        onehot = np.zeros((values.size + 1, n_bins), dtype="int64")
        onehot[1:][finite, bins[finite]] = 1
        cumulative = onehot.cumsum(axis=0)
        ends = np.arange(window, values.size + 1, stride)
        counts = cumulative[ends] - cumulative[ends - window]
        totals = counts.sum(axis=1, keepdims=True)
        actual = np.maximum(counts / np.maximum(totals, 1), PSI_EPSILON)
        expected = np.maximum(np.asarray(stats[name].proportions, dtype="float64"), PSI_EPSILON)
        psi = np.sum((actual - expected) * np.log(actual / expected), axis=1)
        psi = psi[totals[:, 0] > 0]
        if psi.size:
            peak = max(peak, float(psi.max()))
    return peak


def history_ood(
    rows: pd.DataFrame | Mapping[str, Any],
    *,
    features: Sequence[str],
    window: int,
    stride: int = 24,
) -> float:
    """The largest out-of-distribution ratio a ``window``-row stretch of ``rows`` has against
    the range of the other rows (leave the stretch out).

    ``rows`` is the history the model was trained on. Against the range of the *whole*
    history no row is out of distribution, so this asks instead how far an ordinary
    stretch of it strays from the range of the rest: with dozens of features, weekly
    aggregates among them, a 500-row stretch of a calm or a wild month lies outside the rest's
    range on a good share of its rows without anything being wrong. Used as the OOD line
    (the larger of it and the configured one), drift then means "further out than any
    stretch of training was from the others", as :func:`history_psi` does for PSI. Rows with
    a feature that is not finite are left out: the stored dataset keeps its warm-up rows
    (features still NaN), which no model trained on, and counted as out they alone would
    put the line near 1 and silence the check. Computed
    with running minima and maxima from both ends at every ``stride``-th window end; 0.0
    when ``rows`` are fewer than ``window`` + 1 or no feature is present.
    """
    names = [n for n in features if n in rows]
    if not names:
        return 0.0
    values = np.column_stack([np.asarray(rows[n], dtype="float64") for n in names])
    values = values[np.isfinite(values).all(axis=1)]
    n = values.shape[0]
    if n <= window:
        return 0.0
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf)
    high = np.where(finite, values, -np.inf)
    # prefix[i]: range of rows [0, i); suffix[i]: range of rows [i, n)
    inf_row = np.full((1, len(names)), np.inf)
    prefix_min = np.vstack([inf_row, np.minimum.accumulate(low, axis=0)])
    prefix_max = np.vstack([-inf_row, np.maximum.accumulate(high, axis=0)])
    suffix_min = np.vstack([np.minimum.accumulate(low[::-1], axis=0)[::-1], inf_row])
    suffix_max = np.vstack([np.maximum.accumulate(high[::-1], axis=0)[::-1], -inf_row])
    peak = 0.0
    for end in range(window, n + 1, stride):
        start = end - window
        lo = np.minimum(prefix_min[start], suffix_min[end])
        hi = np.maximum(prefix_max[start], suffix_max[end])
        part = values[start:end]
        with np.errstate(invalid="ignore"):
            out = (~np.isfinite(part) | (part < lo) | (part > hi)).any(axis=1)
        peak = max(peak, float(out.mean()))
    return peak
