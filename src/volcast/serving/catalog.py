"""The served series in memory: one immutable :class:`Entry` each, kept fresh in the background.

Each stored series (``curated/<slug>/<interval>``) has one
:class:`~volcast.serving.entry.Entry`: the served model, the latest bars in memory, the
forecast of the latest bar and the HAR baseline. :meth:`Catalog.refresh_data` (when the
curated content hash changes) and :meth:`Catalog.refresh_models` (when the registry alias
moves) build a new entry off the request path and swap it in with one assignment, so a
request sees either the old entry or the new one, never a mix, and nothing on the request
path reads a file or calls the registry. When the registry cannot be reached the last good
model stays in service and the failure is recorded for readiness.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from volcast.config import Params
from volcast.errors import (
    BadRequestError,
    ConfigError,
    ConflictError,
    NotFoundError,
    VolcastError,
)
from volcast.features import FeatureBuilder
from volcast.registry.served import ModelLoader, ServedModel
from volcast.schemas import slugify
from volcast.series import Series
from volcast.serving import baseline, export
from volcast.serving.bars import Bars, read_bars, read_meta, scan_curated
from volcast.serving.entry import Entry
from volcast.serving.monitor import SeriesMonitor, read_live
from volcast.serving.scoring import score_latest
from volcast.serving.settings import ServingSettings
from volcast.sources.news_store import read_headlines
from volcast.storage import Storage

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""``Series.key``: (slug, interval)"""


class Catalog:
    """Every served series' entry and monitor, with their background refreshes."""

    def __init__(
        self,
        *,
        storage: Storage,
        loader: ModelLoader,
        params: Params,
        settings: ServingSettings,
    ) -> None:
        self.storage = storage
        self.loader = loader
        self.params = params
        self.settings = settings
        self._entries: dict[Key, Entry] = {}
        self._monitors: dict[Key, SeriesMonitor] = {}
        self._baselines = baseline.HarBaselines()
        self._refresh_lock = threading.Lock()
        self._monitors_lock = threading.Lock()
        self.registry_ok: bool | None = None
        self.registry_error: str | None = None
        self.last_model_poll: float | None = None
        self.last_data_poll: float | None = None

    # ----- look-up (request path: memory only) -------------------------------------------------

    @property
    def entries(self) -> dict[Key, Entry]:
        """A snapshot of every series' entry."""
        return dict(self._entries)

    def resolve(self, symbol: str, interval: str | None) -> Entry:
        """The entry of ``symbol`` (any spelling with the same slug) and ``interval``.

        ``interval`` may be omitted when only one interval of the symbol is stored.
        """
        try:
            slug = slugify(symbol)
        except ConfigError as exc:
            raise BadRequestError(exc.message, symbol=symbol) from exc
        intervals = sorted(i for s, i in self._entries if s == slug)
        if not intervals:
            known = sorted({e.symbol for e in self._entries.values()})
            raise NotFoundError(
                f"unknown symbol {symbol!r}; stored symbols: {known or 'none'}", symbol=symbol
            )
        if interval is None:
            if len(intervals) > 1:
                raise ConflictError(
                    f"symbol {symbol!r} is stored at several intervals {intervals}; pass interval",
                    symbol=symbol,
                )
            interval = intervals[0]
        entry = self._entries.get((slug, interval))
        if entry is None:
            raise NotFoundError(
                f"no data for {symbol!r} at interval {interval!r}; stored: {intervals}",
                symbol=symbol,
                interval=interval,
            )
        return entry

    def monitor(self, series: Series) -> SeriesMonitor:
        """The monitoring state of a series."""
        found = self._monitors.get(series.key)
        if found is None:
            with self._monitors_lock:
                found = self._monitors.setdefault(series.key, SeriesMonitor(series, self.settings))
        return found

    def served_models(self) -> list[ServedModel]:
        """Every model in service, by symbol and interval."""
        ordered = sorted(self._entries.values(), key=lambda e: (e.symbol, e.interval))
        return [entry.model for entry in ordered if entry.model is not None]

    # ----- background refresh -------------------------------------------------------------------

    def refresh_data(self) -> list[Key]:
        """Reload the bars of series whose curated content hash changed; returns their keys."""
        changed: list[Key] = []
        with self._refresh_lock:
            for series, meta in scan_curated(self.storage).items():
                entry = self._entries.get(series.key) or Entry(series=series)
                if entry.bars is not None and entry.bars.content_hash == str(
                    meta.get("content_hash")
                ):
                    continue
                bars = read_bars(self.storage, entry.series, meta, keep=self._keep(entry))
                if bars is None:
                    continue
                self._install(replace(entry, bars=bars))
                changed.append(series.key)
            self.last_data_poll = time.time()
        export.freshness(list(self._entries.values()))
        for entry in list(self._entries.values()):
            self.monitor(entry.series).set_live(read_live(self.storage, entry.series))
        return changed

    def _keep(self, entry: Entry, model: ServedModel | None = None) -> int:
        """Bars to keep in memory: the history window plus the longest feature warm-up."""
        builder = FeatureBuilder(
            features=self.params.features, target=self.params.target, interval=entry.interval
        )
        required = builder.required_history
        for served in (entry.model, model):
            if served is not None:
                required = max(required, served.builder.required_history)
        return self.settings.history_bars + required

    def refresh_models(self, *, force: bool = False) -> list[Key]:
        """Load a new version wherever the served alias moved (or every one when ``force``).

        A registry failure keeps every loaded model; it is recorded for :meth:`readiness`.
        """
        swapped: list[Key] = []
        with self._refresh_lock:
            errors: list[str] = []
            for key, entry in list(self._entries.items()):
                try:
                    model = self._load_if_moved(entry, force=force)
                except NotFoundError as exc:
                    if entry.model is None:
                        self._install(replace(entry, model_error=str(exc)))
                    continue
                except VolcastError as exc:
                    errors.append(str(exc))
                    if entry.model is None:
                        self._install(replace(entry, model_error=str(exc)))
                    continue
                if model is None:
                    continue
                self._install(
                    replace(entry, model=model, model_error=None, bars=self._bars_for(entry, model))
                )
                swapped.append(key)
                log.info("serving %s v%s for %s", model.name, model.version, entry.series)
            self.registry_ok = not errors
            self.registry_error = "; ".join(errors) or None
            self.last_model_poll = time.time()
            export.registry_up(self.registry_ok)
        return swapped

    def _load_if_moved(self, entry: Entry, *, force: bool) -> ServedModel | None:
        """The aliased model if the alias moved (or ``force``); None to keep the served one."""
        version = self.loader.current_version(entry.symbol, entry.interval)
        if version is None:
            raise NotFoundError(
                f"no '{self.settings.alias}' alias on {entry.series.model_name}",
                symbol=entry.symbol,
                interval=entry.interval,
            )
        if not force and entry.model is not None and entry.model.version == version:
            return None
        return self.loader.load(entry.symbol, entry.interval)

    def _bars_for(self, entry: Entry, model: ServedModel) -> Bars | None:
        """The entry's bars, reread when the new model needs a longer warm-up than they cover."""
        bars = entry.bars
        keep = self._keep(entry, model)
        if bars is not None and bars.truncated and len(bars.frame) < keep:
            meta = read_meta(self.storage, entry.series)
            bars = read_bars(self.storage, entry.series, meta, keep=keep) or bars
        return bars

    def _install(self, entry: Entry) -> None:
        """Recompute the entry's forecast and baseline, then swap it in (one assignment)."""
        key = entry.series.key
        old = self._entries.get(key)
        model, bars = entry.model, entry.bars
        if model is not None and bars is not None:
            try:
                # a model trained with the news features joins the headlines stored by now
                headlines = (
                    read_headlines(self.storage, entry.symbol)
                    if model.builder.features.news
                    else None
                )
                entry = replace(entry, headlines=headlines)
                forecast = score_latest(
                    model, bars.frame, rows=self.settings.history_bars, headlines=headlines
                )
                har = self._baselines.fit(key, model, bars)
                entry = replace(
                    entry,
                    forecast=forecast,
                    forecast_error=None,
                    har=har,
                    baseline=baseline.forecast_last(har, model, bars.frame),
                )
            except (VolcastError, ValueError, ArithmeticError) as exc:
                entry = replace(entry, forecast=None, forecast_error=str(exc))
        else:
            entry = replace(entry, forecast=None)
        self._entries[key] = entry
        export.model_swapped(entry.series, old.model if old is not None else None, entry.model)
        if entry.forecast is not None and entry.model is not None:
            self.monitor(entry.series).forecast_made(
                entry.model,
                entry.forecast.as_of,
                entry.forecast.variance,
                entry.baseline,
                entry.forecast.features,
            )
