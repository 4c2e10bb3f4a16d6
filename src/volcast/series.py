"""One forecast series: an instrument at a bar interval, with everything named after it.

A :class:`Series` is the key every layer shares: its slug names the storage folders, the
registered model (``volcast-<slug>-<interval>``) and the monitoring directory. It validates
itself on construction, so a series that exists has a usable slug and a known interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from volcast.schemas import interval_seconds, slugify

MODEL_PREFIX = "volcast"


@dataclass(frozen=True)
class Series:
    """An instrument (``symbol``, any spelling) at one bar ``interval``."""

    symbol: str
    interval: str

    def __post_init__(self) -> None:
        slugify(self.symbol)  # raises ConfigError when the symbol has no letters or digits
        interval_seconds(self.interval)  # raises ConfigError on an unknown interval

    @property
    def slug(self) -> str:
        """The symbol lower-cased, letters and digits only (EUR/USD -> eurusd)."""
        return slugify(self.symbol)

    @property
    def key(self) -> tuple[str, str]:
        """``(slug, interval)``: equal for every spelling of the same symbol."""
        return (self.slug, self.interval)

    @property
    def model_name(self) -> str:
        """Registered model name ``volcast-<slug>-<interval>`` (EUR/USD 1h -> volcast-eurusd-1h)."""
        return f"{MODEL_PREFIX}-{self.slug}-{self.interval}"

    @property
    def layout(self) -> Layout:
        """Relative storage paths of this series' artefacts."""
        return Layout(self.symbol, self.interval)

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval}"


@dataclass(frozen=True)
class Layout:
    """Relative paths of every artefact for one symbol and interval (see :mod:`volcast.storage`)."""

    symbol: str
    interval: str

    @property
    def slug(self) -> str:
        return slugify(self.symbol)

    def raw(self, source: str, collected_at: datetime, *, page: int = 1, ext: str = "json") -> str:
        stamp = collected_at.strftime("%Y%m%d_%H%M%S")
        suffix = "" if page <= 1 else f"_p{page:03d}"
        return f"raw/{source}/{self.slug}/{self.interval}/raw_{stamp}{suffix}.{ext}"

    @property
    def staging_bars(self) -> str:
        return f"staging/{self.slug}/{self.interval}/bars.parquet"

    @property
    def staging_meta(self) -> str:
        return f"staging/{self.slug}/{self.interval}/meta.json"

    @property
    def curated_bars(self) -> str:
        return f"curated/{self.slug}/{self.interval}/bars.parquet"

    @property
    def curated_meta(self) -> str:
        return f"curated/{self.slug}/{self.interval}/meta.json"

    @property
    def dataset(self) -> str:
        return f"datasets/{self.slug}/{self.interval}/features.parquet"

    @property
    def dataset_meta(self) -> str:
        return f"datasets/{self.slug}/{self.interval}/meta.json"

    @property
    def quality_report(self) -> str:
        return f"reports/quality/{self.slug}_{self.interval}.json"

    @property
    def profile_report(self) -> str:
        return f"reports/profile/{self.slug}_{self.interval}.html"

    @property
    def backtest_predictions(self) -> str:
        return f"reports/backtest/{self.slug}_{self.interval}_predictions.parquet"

    @property
    def backtest_meta(self) -> str:
        return f"reports/backtest/{self.slug}_{self.interval}_meta.json"

    @property
    def promotion_dir(self) -> str:
        return f"reports/promotion/{self.slug}_{self.interval}"

    @property
    def monitoring_dir(self) -> str:
        return f"monitoring/{self.slug}/{self.interval}"

    @property
    def monitoring_requests(self) -> str:
        """Retrain requests from alerts, one JSON file each (see volcast.monitoring.requests)."""
        return f"{self.monitoring_dir}/requests"

    @property
    def monitoring_forecasts(self) -> str:
        """The stream worker's forecasts log: one row per processed bar."""
        return f"{self.monitoring_dir}/forecasts.parquet"

    def monitoring_target_forecasts(self, kind: str) -> str:
        """The stream worker's forecasts log of the ``return`` or ``direction`` champion."""
        return f"{self.monitoring_dir}/forecasts-{kind}.parquet"

    @property
    def monitoring_events(self) -> str:
        """The stream worker's events, one JSON object a line."""
        return f"{self.monitoring_dir}/events.jsonl"

    @property
    def monitoring_summary(self) -> str:
        """The stream worker's state summary: the gauges every API worker exports."""
        return f"{self.monitoring_dir}/state.json"
