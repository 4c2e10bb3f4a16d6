"""The status page's OOD indicator uses the drift detector's own line, as the alert does."""

from __future__ import annotations

import pytest

from volcast.series import Series
from volcast.serving.entry import Entry
from volcast.serving.monitor import SeriesMonitor
from volcast.serving.settings import ServingSettings
from volcast.serving.status import series_status

SERIES = Series("GBP/USD", "1h")


@pytest.mark.parametrize(
    ("ratio", "line", "expected"),
    [
        (0.50, 0.90, "warn"),  # a worker whose training history reaches 0.9: 0.5 is no alarm
        (0.95, 0.90, "alert"),
        (0.20, 0.15, "alert"),  # the textbook line
        (0.15, 0.15, "warn"),  # on the line: the detector alarms above it only
        (0.04, 0.15, "ok"),
        (0.20, 0.90, "ok"),
    ],
)
def test_the_ood_indicator_follows_the_detectors_line(
    ratio: float, line: float, expected: str
) -> None:
    monitor = SeriesMonitor(SERIES, ServingSettings())
    monitor.set_live({"ood_ratio": ratio, "ood_threshold": line, "drift_window": 500})
    ood = series_status(Entry(series=SERIES), monitor).ood
    assert ood.status == expected
    assert f"line {line:.0%}" in ood.text
