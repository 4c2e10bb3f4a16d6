"""The status page's HTML, rendered on the server from the same documents as the JSON API.

Every value the page later refreshes sits in an element with a ``data-field`` attribute;
``static/status.js`` fetches the JSON endpoints every ``refresh`` seconds and rewrites those
fields, the chart (uPlot, vendored under ``static/vendor``) and the events list, without a
reload. Values are HTML-escaped here; the script sets ``textContent`` only.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from volcast.errors import VolcastError
from volcast.serving import status
from volcast.serving.status_schemas import (
    ChampionCard,
    EventItem,
    Indicator,
    SeriesItem,
    SeriesStatus,
)

if TYPE_CHECKING:
    from volcast.serving.service import ForecastService

INDICATORS = (
    ("freshness", "Data freshness"),
    ("drift", "Input drift"),
    ("ood", "Out-of-distribution ratio"),
    ("loss", "Realized loss"),
)


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _field(name: str, text: str, tag: str = "span") -> str:
    return f'<{tag} data-field="{name}">{escape(text)}</{tag}>'


def _champion(card: ChampionCard | None, error: str | None) -> str:
    if card is None:
        return f'<p class="empty" data-field="champion.error">{escape(error or "no model")}</p>'
    baselines = ", ".join(f"{k} {v:.4g}" for k, v in sorted(card.baselines_qlike.items()))
    rows = [
        ("Version", "champion.version", f"v{card.version}"),
        ("Model", "champion.kind", card.kind or "—"),
        ("Registered", "champion.registered_at", _when(card.registered_at)),
        ("Promotion", "champion.decision", card.decision or "not judged by `promote`"),
        ("Decided", "champion.decided_at", _when(card.decided_at)),
        ("Why", "champion.reason", card.reason or "—"),
        ("QLIKE (backtest)", "champion.qlike", _num(card.qlike)),
        ("Baselines' QLIKE", "champion.baselines", baselines or "—"),
        ("Loaded", "champion.loaded_at", _when(card.loaded_at)),
    ]
    body = "".join(f"<dt>{label}</dt>{_field(name, text, 'dd')}" for label, name, text in rows)
    return f'<dl class="facts" data-version="{card.version}">{body}</dl>'


def _indicator(key: str, label: str, indicator: Indicator) -> str:
    return (
        f'<li class="indicator st-{indicator.status}" data-indicator="{key}">'
        '<span class="dot" aria-hidden="true"></span>'
        f'<span class="label">{label}</span>'
        f"{_field(f'status.{key}.status', indicator.status, 'strong')}"
        f"{_field(f'status.{key}.text', indicator.text)}</li>"
    )


def _events(events: list[EventItem]) -> str:
    if not events:
        return '<li class="empty">No events yet (no stream worker has run).</li>'
    return "".join(
        f"<li><time>{escape(_when(e.time))}</time> <strong>{escape(e.event)}</strong></li>"
        for e in events
    )


def _series(service: ForecastService, item: SeriesItem) -> str:
    key = f"{item.slug}-{item.interval}"
    entry = service.catalog.resolve(item.slug, item.interval)
    state: SeriesStatus = status.series_status(entry, service.catalog.monitor(entry.series))
    card: ChampionCard | None = None
    error: str | None = None
    try:
        card = status.champion_card(entry)
    except VolcastError as exc:
        error = str(exc)
    events = status.latest_events(service.catalog.storage, entry, limit=10)
    synthetic = (
        '<span class="badge synthetic" title="The bars come from the sample generator">'
        "Synthetic data</span>"
        if item.synthetic
        else ""
    )
    indicators = "".join(_indicator(k, label, getattr(state, k)) for k, label in INDICATORS)
    return f"""
<section class="series" id="series-{key}" data-slug="{escape(item.slug)}"
  data-interval="{escape(item.interval)}" aria-labelledby="title-{key}">
  <header class="series-head">
    <h2 id="title-{key}">{escape(item.symbol)} <small>{escape(item.interval)}</small></h2>
    {synthetic}
    <span class="pill st-{state.status}" data-field="overall">{state.status}</span>
  </header>
  <div class="grid">
    <figure class="panel chart-panel">
      <figcaption>Forecast vs realized volatility
        <span class="muted" data-field="origin">loading…</span></figcaption>
      <div class="chart" role="img" tabindex="0" data-points="0"
        aria-label="Line chart of forecast, realized and HAR volatility for {escape(item.symbol)}">
      </div>
      <p class="muted chart-empty" hidden>No forecasts stored yet: train a model or start
        <code>volcast stream</code>.</p>
    </figure>
    <article class="panel" aria-labelledby="champion-{key}">
      <h3 id="champion-{key}">Champion</h3>
      <div data-role="champion">{_champion(card, error)}</div>
    </article>
    <article class="panel" aria-labelledby="health-{key}">
      <h3 id="health-{key}">Health</h3>
      <ul class="indicators">{indicators}</ul>
    </article>
    <article class="panel" aria-labelledby="events-{key}">
      <h3 id="events-{key}">Latest events</h3>
      <ol class="events" data-role="events">{_events(events)}</ol>
    </article>
  </div>
</section>"""


def render_page(service: ForecastService, items: list[SeriesItem], *, refresh: int) -> str:
    """The whole page: one section per served series."""
    body = "".join(_series(service, item) for item in items) or (
        '<p class="empty">No series is stored yet: run <code>make run</code> '
        "(or <code>volcast pipeline</code>), then reload.</p>"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>volcast status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/uPlot.min.css">
<link rel="stylesheet" href="/static/status.css">
</head>
<body data-refresh="{refresh}">
<a class="skip" href="#main">Skip to the series</a>
<header class="top">
  <h1>volcast status</h1>
  <p class="muted">Next-bar volatility forecasts of the registry's champions.
    Updated every {refresh} s; <span role="status" aria-live="polite" id="updated">
    rendered by the server</span>.
    <a href="/docs">API docs</a></p>
</header>
<main id="main">{body}</main>
<script src="/static/vendor/uPlot.iife.min.js"></script>
<script src="/static/status.js"></script>
</body>
</html>"""
