"""The drift detector: PSI, OOD ratio and mean shift over a sliding window."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.monitoring import DriftDetector, ReferenceStats, reference_statistics


@pytest.fixture
def reference() -> ReferenceStats:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.uniform(0, 1, size=5000)})
    return reference_statistics(frame)


def feed(detector: DriftDetector, rows: np.ndarray) -> DriftDetector:
    for row in rows:
        detector.update(row)
    return detector


def test_same_distribution_is_not_drift(reference: ReferenceStats) -> None:
    rng = np.random.default_rng(1)
    rows = np.column_stack([rng.normal(size=400), rng.uniform(0, 1, size=400)])
    detector = feed(DriftDetector(reference, window=400), rows)
    assert not detector.drift_detected
    assert max(detector.psi.values()) < 0.1
    assert detector.ood_ratio < 0.02
    assert abs(detector.mean_shift["a"]) < 0.2


def test_shifted_feature_is_drift_and_named(reference: ReferenceStats) -> None:
    rng = np.random.default_rng(2)
    rows = np.column_stack([rng.normal(loc=1.5, size=300), rng.uniform(0, 1, size=300)])
    detector = feed(DriftDetector(reference, window=300), rows)
    assert detector.drift_detected
    assert detector.drifted_features == ["a"]
    assert detector.mean_shift["a"] > 1.2


def test_out_of_range_rows_raise_the_ood_ratio(reference: ReferenceStats) -> None:
    detector = DriftDetector(reference, window=10, min_samples=5, ood_threshold=0.15)
    feed(detector, np.array([[0.0, 0.5]] * 8 + [[50.0, 0.5], [0.0, np.nan]]))
    assert detector.ood_ratio == pytest.approx(0.2)
    assert detector.drift_detected


def test_window_slides(reference: ReferenceStats) -> None:
    detector = DriftDetector(reference, window=5, min_samples=1)
    feed(detector, np.array([[99.0, 0.5]] * 5))
    assert detector.ood_ratio == 1.0
    feed(detector, np.array([[0.0, 0.5]] * 5))
    assert detector.ood_ratio == 0.0
    assert detector.n_window == 5
    assert detector.n_seen_ == 10


def test_mapping_rows_and_nothing_before_min_samples(reference: ReferenceStats) -> None:
    detector = DriftDetector(reference, min_samples=3)
    detector.update({"a": 100.0, "b": 0.5}).update({"a": 100.0, "b": 0.5})
    assert detector.ood_ratio == 1.0
    assert not detector.drift_detected
    detector.update({"a": 100.0})
    assert detector.drift_detected


def test_deterministic_and_pickles(reference: ReferenceStats) -> None:
    rows = np.random.default_rng(3).normal(size=(50, 2))
    first = feed(DriftDetector(reference, window=20), rows)
    second = feed(DriftDetector(reference, window=20), rows)
    assert first.psi == second.psi
    clone = pickle.loads(pickle.dumps(first))
    assert clone.psi == first.psi
    clone.update(rows[0])
    first.update(rows[0])
    assert clone.mean_shift == first.mean_shift


def test_bad_configuration_and_rows(reference: ReferenceStats) -> None:
    with pytest.raises(ConfigError, match="window"):
        DriftDetector(reference, window=0)
    with pytest.raises(ConfigError, match="expects 2 features"):
        DriftDetector(reference).update([1.0, 2.0, 3.0])


def test_the_logged_json_document_gives_the_same_detector(reference: ReferenceStats) -> None:
    rows = np.random.default_rng(4).normal(size=(80, 2)) + np.array([0.5, 0.0])
    typed = feed(DriftDetector(reference, window=50, min_samples=10), rows)
    logged = feed(DriftDetector(reference.to_dict(), window=50, min_samples=10), rows)
    assert logged.feature_names == typed.feature_names
    assert logged.psi == typed.psi
    assert logged.ood_ratio == typed.ood_ratio


def test_a_recent_stretch_out_of_range_is_drift_long_before_the_window_says_so(
    reference: ReferenceStats,
) -> None:
    rng = np.random.default_rng(5)
    detector = DriftDetector(reference, window=500, min_samples=168, recent=24)
    feed(detector, np.column_stack([rng.normal(size=300), rng.uniform(0, 1, size=300)]))
    assert not detector.drift_detected
    feed(detector, np.array([[9.0, 0.5]] * 11))  # a regime training never saw
    assert detector.recent_ood_ratio == pytest.approx(11 / 24)
    assert not detector.drift_detected
    detector.update(np.array([9.0, 0.5]))  # the 12th of the last 24 rows
    assert detector.recent_ood_ratio == pytest.approx(0.5)
    assert detector.ood_ratio < detector.ood_threshold  # 12 of 312: the window alone is quiet
    assert detector.drift_detected
    feed(detector, np.column_stack([rng.normal(size=13), rng.uniform(0, 1, size=13)]))
    assert detector.recent_ood_ratio == pytest.approx(11 / 24)  # the oldest left the stretch
    assert not detector.drift_detected


def test_a_detector_pickled_before_the_recent_stretch_still_loads(
    reference: ReferenceStats,
) -> None:
    detector = DriftDetector(reference, window=50, min_samples=5)
    feed(detector, np.array([[0.0, 0.5]] * 10))
    for name in ("recent", "recent_threshold", "_ood_recent"):
        del detector.__dict__[name]  # the state an older volcast stored
    restored = pickle.loads(pickle.dumps(detector))
    restored.update(np.array([99.0, 0.5]))
    assert restored.recent_ood_ratio == 0.0  # the stretch is off, the window still works
    assert restored.ood_ratio == pytest.approx(1 / 11)


def test_history_psi_is_the_largest_psi_a_window_reaches_on_the_history() -> None:
    from volcast.monitoring.drift import history_psi

    rng = np.random.default_rng(7)
    # clustered history: a slow regime in the level, as volatility features have
    level = np.repeat(rng.normal(scale=1.0, size=20), 150)
    frame = pd.DataFrame({"a": level + rng.normal(size=3000), "b": rng.uniform(size=3000)})
    reference = reference_statistics(frame)
    window, stride = 300, 50
    peak = history_psi(reference, frame, features=["a", "b"], window=window, stride=stride)
    # the same PSI the detector reports, window by window
    detector = DriftDetector(reference, features=["a", "b"], window=window, min_samples=window)
    seen = []
    for end, row in enumerate(frame[["a", "b"]].to_numpy(), start=1):
        detector.update(row)
        if end >= window and (end - window) % stride == 0:
            seen.append(max(detector.psi.values()))
    assert peak == pytest.approx(max(seen), rel=1e-9)
    assert peak > 0.25  # ordinary regimes of this history stray past the textbook line
    # with that line, replaying the history itself raises no drift
    quiet = DriftDetector(
        reference, features=["a", "b"], window=window, min_samples=window, psi_threshold=peak,
        recent=0,
    )  # fmt: skip
    alarms = [quiet.update(row).drift_detected for row in frame[["a", "b"]].to_numpy()]
    assert not any(alarms[window - 1 :: stride])
    assert history_psi(reference, frame.head(100), features=["a"], window=window) == 0.0


def _ood_brute_force(frame: pd.DataFrame, names: list[str], window: int, stride: int) -> float:
    """The textbook reading: each stretch against the min and max of the rows outside it."""
    values = frame[names].to_numpy()
    peak = 0.0
    for end in range(window, len(values) + 1, stride):
        rest = np.delete(values, np.s_[end - window : end], axis=0)
        part = values[end - window : end]
        out = (part < np.nanmin(rest, axis=0)) | (part > np.nanmax(rest, axis=0))
        out |= ~np.isfinite(part)
        peak = max(peak, float(out.any(axis=1).mean()))
    return peak


def test_history_ood_is_the_largest_share_a_stretch_lies_outside_the_rest() -> None:
    from volcast.monitoring.drift import history_ood

    rng = np.random.default_rng(8)
    level = np.repeat(rng.normal(scale=1.0, size=20), 150)  # slow regimes, as a weekly mean
    frame = pd.DataFrame({"a": level + 0.2 * rng.normal(size=3000), "b": rng.uniform(size=3000)})
    frame.loc[1234, "b"] = np.nan
    window, stride = 300, 50
    peak = history_ood(frame, features=["a", "b", "missing"], window=window, stride=stride)
    complete = frame.dropna().reset_index(drop=True)  # rows with a NaN feature are left out
    assert peak == pytest.approx(_ood_brute_force(complete, ["a", "b"], window, stride), rel=1e-12)
    assert peak > 0.15  # an ordinary regime of this history lies past the configured line
    # i.i.d. rows: a stretch rarely holds the extremes of the rest
    flat = pd.DataFrame({"a": rng.normal(size=3000)})
    assert history_ood(flat, features=["a"], window=window, stride=stride) < 0.02
    assert history_ood(flat.head(window), features=["a"], window=window) == 0.0
    assert history_ood(flat, features=["missing"], window=window) == 0.0


def test_warm_up_rows_with_nan_features_do_not_raise_the_history_ood_line() -> None:
    from volcast.monitoring.drift import history_ood

    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    stored = frame.copy()
    stored.loc[:479, ["a", "b"]] = np.nan  # the stored dataset's 480 warm-up rows
    trained = frame.iloc[480:].reset_index(drop=True)
    line = history_ood(stored, features=["a", "b"], window=500)
    assert line == history_ood(trained, features=["a", "b"], window=500)
    assert line < 0.05


def test_the_history_ood_line_keeps_an_ordinary_regime_quiet_and_a_new_one_alarms() -> None:
    from volcast.monitoring.drift import history_ood

    rng = np.random.default_rng(9)
    level = np.repeat(rng.normal(scale=1.0, size=20), 150)
    frame = pd.DataFrame({"a": level + 0.2 * rng.normal(size=3000)})
    reference = reference_statistics(frame)
    line = history_ood(frame, features=["a"], window=300)

    def detector() -> DriftDetector:
        return DriftDetector(
            reference, features=["a"], window=300, min_samples=300, recent=0,
            psi_threshold=100.0, ood_threshold=max(0.15, line),
        )  # fmt: skip

    lowest = float(frame["a"].min())
    # a regime at the history's lowest: about a third of its rows past the minimum, no
    # further out than the history's own stretches were from the rest (the line: 0.47)
    ordinary = lowest + 0.1 + 0.2 * rng.normal(size=300)
    assert 0.15 < float(np.mean(ordinary < lowest)) < line
    assert not feed(detector(), ordinary[:, None]).drift_detected
    # with the configured line alone, it alarms
    fixed = DriftDetector(
        reference, features=["a"], window=300, min_samples=300, recent=0, psi_threshold=100.0,
        ood_threshold=0.15,
    )  # fmt: skip
    assert feed(fixed, ordinary[:, None]).drift_detected
    # a regime well outside anything in training: every row out
    new = float(frame["a"].max()) + 1.0 + 0.2 * rng.normal(size=300)
    assert feed(detector(), new[:, None]).drift_detected
