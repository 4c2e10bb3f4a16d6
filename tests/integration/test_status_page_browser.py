"""The status page in a real browser (headless system Chromium) on a real `volcast serve`.

The service runs on a LightGBM champion registered through a real `mlflow server`, with a
stored backtest so the chart has points. The page must load without a console error, draw
as many points as the JSON endpoint returns, show the served version on the champion card,
and show a new version after a promotion during the test without being reloaded. A
screenshot is kept under the test's tmp dir (path printed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.api.conftest import SYMBOL, store_bars, synthetic_bars, train_and_register
from tests.browser import browser_page, chromium_executable
from tests.integration.test_serve_live import mlflow_server, serving
from volcast.series import Series
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]

SERIES = Series(SYMBOL, "1h")
N_POINTS = 300


@dataclass
class Served:
    url: str
    tracking_uri: str
    version: int
    bars: pd.DataFrame


def store_backtest(storage: Storage, bars: pd.DataFrame, *, version: int) -> None:
    """Out-of-sample rows of the champion's kind and of HAR, as `volcast train` stores them."""
    stamps = bars["timestamp"].iloc[-N_POINTS:].reset_index(drop=True)
    realized = (bars["close"].pct_change().iloc[-N_POINTS:].to_numpy() ** 2) + 1e-8
    frames = [
        pd.DataFrame(
            {
                "timestamp": stamps,
                "model": model,
                "forecast_variance": pd.Series(realized).rolling(24, min_periods=1).mean() * k,
                "realized_variance": realized,
            }
        )
        for model, k in (("lightgbm", 1.0), ("har", 1.2))
    ]
    storage.write_parquet(SERIES.layout.backtest_predictions, pd.concat(frames))
    storage.write_json(
        SERIES.layout.backtest_meta,
        {"challenger": "lightgbm", "version": version, "run_id": "x", "dataset_hash": "x"},
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    chromium_executable()  # skip (or fail on CI) before starting any server
    root = tmp_path_factory.mktemp("status-page")
    bars = synthetic_bars(1200)
    storage = Storage(root / "data")
    store_bars(storage, bars)
    with mlflow_server(root) as (tracking_uri, _):
        version = train_and_register(bars, kind="lightgbm", tracking_uri=tracking_uri)
        store_backtest(storage, bars, version=version)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VOLCAST_"))},
            "VOLCAST_DATA_DIR": str(root / "data"),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "VOLCAST_SERVE_MODEL_POLL_SECONDS": "0.5",
            "VOLCAST_SERVE_DATA_POLL_SECONDS": "0.5",
            "VOLCAST_SERVE_HISTORY_BARS": "1200",
        }
        with serving(root, env) as url:
            yield Served(url, tracking_uri, version, bars)


def test_status_page_in_chromium(served: Served, tmp_path: Path) -> None:
    base = f"{served.url}/api/series/{SERIES.slug}/1h"
    expected = httpx.get(f"{base}/forecasts", timeout=10).json()
    assert expected["origin"] == "backtest"
    assert len(expected["points"]) == N_POINTS
    key = f"{SERIES.slug}-1h"

    with browser_page() as (page, console):
        page.goto(f"{served.url}/?refresh=1")
        page.wait_for_function("window.volcast && window.volcast.updates >= 1", timeout=30_000)
        section = page.locator(f"#series-{key}")
        assert "Synthetic data" in section.locator(".series-head").inner_text()

        # the chart holds every point the API returned, and uPlot drew it on a canvas
        drawn = page.evaluate(f"window.volcast.charts['{key}'].data[0].length")
        assert drawn == len(expected["points"])
        assert section.locator(".chart").get_attribute("data-points") == str(drawn)
        assert section.locator(".chart canvas").count() >= 1

        version = section.locator('[data-field="champion.version"]')
        assert version.inner_text() == f"v{served.version}"
        page.screenshot(path=str(tmp_path / "status-before.png"), full_page=True)

        # a promotion during the test: the card follows without a reload
        page.evaluate("window.__not_reloaded = true")
        new = train_and_register(served.bars, kind="har", tracking_uri=served.tracking_uri)
        assert new != served.version
        page.wait_for_function(
            f"document.querySelector('#series-{key} [data-field=\"champion.version\"]')"
            f".textContent === 'v{new}'",
            timeout=90_000,
        )
        assert page.evaluate("window.__not_reloaded === true")
        assert section.locator("dl.facts").get_attribute("data-version") == str(new)

        screenshot = tmp_path / "status.png"
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
        assert screenshot.stat().st_size > 10_000
        assert console.errors == []


def test_status_page_on_a_phone(served: Served, tmp_path: Path) -> None:
    with browser_page(width=390, height=844) as (page, console):
        page.goto(f"{served.url}/")
        page.wait_for_function("window.volcast && window.volcast.updates >= 1", timeout=30_000)
        # one column: nothing wider than the viewport
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390
        # keyboard: the skip link is the first stop, the chart can be focused
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.screenshot(path=str(tmp_path / "status-phone.png"), full_page=True)
        assert console.errors == []


# WCAG 2.1 contrast of every visible text node against the background it is painted on
# (the nearest ancestor with an opaque background), computed from the rendered styles.
CONTRAST_JS = """
() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('svg, canvas, .skip')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 ||
      (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    out.push({ text: n.textContent.trim().slice(0, 40), ratio, need: large ? 3 : 4.5 });
  }
  return out;
}
"""


def test_status_page_is_accessible(served: Served) -> None:
    """Contrast (WCAG AA), a name for every landmark, chart and control, a keyboard path."""
    with browser_page() as (page, console):
        page.goto(f"{served.url}/")
        page.wait_for_function("window.volcast && window.volcast.updates >= 1", timeout=30_000)
        texts = page.evaluate(CONTRAST_JS)
        assert len(texts) > 20, "the page rendered almost no text"
        low = [t for t in texts if t["ratio"] < t["need"]]
        assert low == [], f"text below WCAG AA contrast: {low}"
        # every status indicator says its state in words, not by colour alone
        states = page.locator(".pill").all_inner_texts()
        assert states
        assert all(s.strip() for s in states), states
        # names: the page language, each section and chart, every control
        assert page.evaluate("document.documentElement.lang") == "en"
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll(
                 'section, article, [role=img], button, a, input, select')]
               .filter((e) => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                                || e.textContent.trim()))
               .map((e) => e.outerHTML.slice(0, 80))"""
        )
        assert unnamed == [], unnamed
        # the keyboard reaches every chart, and focus is drawn
        charts = page.locator(".chart").count()
        reached, outlined = set(), []
        for _ in range(60):
            page.keyboard.press("Tab")
            focus = page.evaluate(
                "(() => { const e = document.activeElement; return [e.className, "
                "e.closest('section') && e.closest('section').dataset.slug, "
                "getComputedStyle(e).outlineStyle]; })()"
            )
            if "chart" in str(focus[0]):
                reached.add(focus[1])
                outlined.append(focus[2])
        assert len(reached) == charts, f"{len(reached)} of {charts} charts reached by Tab"
        assert all(style != "none" for style in outlined), outlined
        assert console.errors == []
