"""The decay detector: a CUSUM on standardized surprises, calibrated on the series' history."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from volcast.errors import ConfigError
from volcast.monitoring.decay import Cusum, SurpriseCusum, calibrate_cusum, max_cusum, surprises


def garch_variance(n: int, rng: np.random.Generator) -> np.ndarray:
    """A GARCH(1,1) conditional variance path (clustered, persistence 0.97)."""
    omega, alpha, beta = 0.03, 0.07, 0.90
    h = np.empty(n)
    h[0] = omega / (1 - alpha - beta)
    shocks = rng.standard_t(df=6, size=n) / math.sqrt(6 / 4)
    for t in range(1, n):
        h[t] = omega + alpha * h[t - 1] * shocks[t - 1] ** 2 + beta * h[t - 1]
    return h


def bars(n: int, seed: int, *, shift_at: int | None = None, factor: float = 1.0):
    """(realized, forecast): a perfect forecast until ``shift_at``, then realized x factor.

    The realized proxy is the variance times a Gamma(4, 1/4) noise, about as noisy as a
    Garman-Klass estimate; the forecast is the true pre-shift variance throughout.
    """
    rng = np.random.default_rng(seed)
    h = garch_variance(n, rng)
    realized = h * rng.gamma(shape=4.0, scale=0.25, size=n)
    if shift_at is not None:
        realized[shift_at:] *= factor
    return realized, h


def detector_for(seed: int = 100) -> SurpriseCusum:
    realized, forecast = bars(3000, seed)
    calibration = calibrate_cusum(realized, forecast, false_alarm_rate=0.01, run_length=1000)
    return SurpriseCusum.from_calibration(calibration)


def first_alarm(detector: SurpriseCusum, realized: np.ndarray, forecast: np.ndarray) -> int | None:
    for i, (y, f) in enumerate(zip(realized, forecast, strict=True)):
        if detector.update(float(y), float(f)).drift_detected:
            return i
    return None


def test_calibration_estimates_level_and_scale_of_the_surprise() -> None:
    realized, forecast = bars(3000, 1)
    calibration = calibrate_cusum(realized, forecast)
    # ln Gamma(4, 1/4): median about -0.08, sd sqrt(trigamma(4)) = 0.533
    assert calibration.level == pytest.approx(-0.084, abs=0.04)
    assert calibration.scale == pytest.approx(0.533, rel=0.1)
    assert 4.0 < calibration.threshold < 30.0
    assert calibration.n_history == 3000


def test_unchanged_runs_rarely_alarm() -> None:
    """Target 1% of 1,000-bar runs; a 3,000-bar history pins such a rare event down only
    within a factor of a few (measured 2-6% over histories), so the bound is 5%."""
    template = detector_for()
    alarms = 0
    for seed in range(300):
        detector = pickle.loads(pickle.dumps(template))
        alarms += first_alarm(detector, *bars(1000, 10_000 + seed)) is not None
    assert alarms <= 15, f"{alarms} of 300 unchanged 1,000-bar runs alarmed (target 1%)"


@pytest.mark.parametrize(("factor", "max_delay"), [(2.0, 48), (3.0, 24)])
def test_a_volatility_shift_is_found_quickly(factor: float, max_delay: int) -> None:
    template = detector_for()
    delays = []
    for seed in range(200):
        detector = pickle.loads(pickle.dumps(template))
        realized, forecast = bars(700, 20_000 + seed, shift_at=500, factor=factor)
        before = first_alarm(detector, realized[:500], forecast[:500])
        if before is not None:
            continue  # a false alarm before the shift: counted by the test above
        after = first_alarm(detector, realized[500:], forecast[500:])
        delays.append(math.inf if after is None else after + 1)
    within = np.mean(np.asarray(delays) <= max_delay)
    assert within >= 0.95, f"{factor}x shift found within {max_delay} bars in {within:.0%} of runs"
    assert np.median(delays) <= max_delay / 2


def test_a_calmer_market_alarms_downwards_unless_upward_only() -> None:
    realized, forecast = bars(400, 3, shift_at=100, factor=0.3)
    calibration = calibrate_cusum(*bars(3000, 4))
    both = SurpriseCusum.from_calibration(calibration)
    assert first_alarm(both, realized, forecast) is not None
    assert both.direction == "down"
    upward = SurpriseCusum.from_calibration(calibration, upward_only=True)
    assert first_alarm(upward, realized, forecast) is None


def test_river_style_update_returns_self_and_state_round_trips() -> None:
    detector = SurpriseCusum(level=0.0, scale=1.0, k=0.5, threshold=2.5)
    assert detector.update(2.0, 1.0) is detector
    assert detector.n_seen_ == 1
    assert detector.up_ == pytest.approx(math.log(2.0) - 0.5)
    copy = pickle.loads(pickle.dumps(detector))
    for y in (3.0, 4.0, 5.0):
        detector.update(y, 1.0)
        copy.update(y, 1.0)
    assert copy.statistic == detector.statistic
    assert detector.drift_detected
    assert detector.direction == "up"
    assert detector.reset().statistic == 0.0
    assert detector.n_seen_ == 4
    with pytest.raises(AttributeError):
        detector.drift_detected = False  # type: ignore[misc]


def test_unusable_pairs_are_ignored() -> None:
    detector = SurpriseCusum()
    for y, f in ((0.0, 1.0), (1.0, 0.0), (math.nan, 1.0), (1.0, math.inf), (-1.0, 1.0)):
        detector.update(y, f)
    assert detector.n_seen_ == 0
    assert surprises([1.0, 0.0, 2.0], [1.0, 1.0, 1.0]).tolist() == [0.0, math.log(2.0)]


def test_max_cusum_matches_the_recursion_written_out() -> None:
    z = np.array([[1.0, 2.0, -1.0, 3.0], [-2.0, -2.0, 0.0, 0.5]])
    up = [0.0, 0.5, 2.0, 0.5, 3.0]  # row 0, k = 0.5
    down_row1 = [0.0, 1.5, 3.0, 2.5, 1.5]
    assert max_cusum(z, k=0.5).tolist() == [max(up), max(down_row1)]


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 0.0}, {"scale": math.nan}, {"k": -1.0}, {"threshold": 0.0}],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SurpriseCusum(**kwargs)


def test_too_little_history_to_calibrate_is_refused() -> None:
    with pytest.raises(ConfigError, match="too few to calibrate"):
        calibrate_cusum(np.ones(20), np.ones(20))


def test_run_length_points_at_where_the_change_began() -> None:
    detector = Cusum(level=0.0, scale=1.0, k=0.5, threshold=5.0)
    for _ in range(50):  # in control: z = 0 keeps both sums at zero
        detector.update_value(0.0)
    assert detector.run_length == 0
    for _ in range(8):  # a shift of 1.5 scale units: the sum climbs 1 a bar
        detector.update_value(1.5)
    assert detector.drift_detected
    assert detector.run_length == 8
    restored = pickle.loads(pickle.dumps(detector))
    assert restored.run_length == 8
    assert detector.reset().run_length == 0
