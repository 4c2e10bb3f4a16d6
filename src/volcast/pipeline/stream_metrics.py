"""Prometheus metrics of a running stream worker (``volcast stream --metrics-port``).

A custom collector reads the worker's report and its stored summary at scrape time, so the
numbers are those of the worker itself, with no second bookkeeping. Counters count since the
process started (Prometheus handles the reset at a restart).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from volcast.pipeline.stream import StreamWorker

_COUNTERS = (
    ("stream_bars_processed", "Bars the worker processed (forecast, realized, monitored).", "bars"),
    ("stream_bars_rejected", "New bars the quality gate rejected.", "rejected"),
    ("stream_source_errors", "Fetches that failed after the source's retries.", "source_errors"),
    ("stream_retrains", "Retrains the worker ran.", "retrains"),
    ("stream_promotions", "Retrains that crowned a new champion.", "promotions"),
)


class WorkerCollector:
    """The counters of a worker's report and the age of its last processed bar."""

    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        series = self.worker.series
        labels = [series.symbol, series.interval]
        report = self.worker.report
        for name, text, attribute in _COUNTERS:
            family = CounterMetricFamily(name, text, labels=["symbol", "interval"])
            family.add_metric(labels, float(getattr(report, attribute)))
            yield family
        summary: dict[str, Any] | None = self.worker.store.read_summary()
        last = (summary or {}).get("last_processed")
        if last:
            gauge = GaugeMetricFamily(
                "monitoring_last_bar_timestamp_seconds",
                "Unix time of the last bar the stream worker processed.",
                labels=["symbol", "interval"],
            )
            gauge.add_metric(labels, pd.Timestamp(last).timestamp())
            yield gauge


def serve_metrics(worker: StreamWorker, *, port: int, host: str = "0.0.0.0") -> int:
    """Serve ``/metrics`` of ``worker`` on a daemon thread; returns the port bound."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
