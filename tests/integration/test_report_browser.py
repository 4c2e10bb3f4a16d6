"""`volcast report` on the real BTC/USD hourly file, opened in headless system Chromium.

The whole shared Coinbase file (about 20,000 bars, every default candidate; only the profile
report is off) goes through `volcast pipeline --source csv`; the report must then carry the
backtest table with
its Diebold-Mariano tests and the promotion history, and every embedded plot must decode in
the browser (``naturalWidth > 0``). The markdown summary is checked as the CML comment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.browser import browser_page, chromium_executable
from tests.helpers import BTC_CSV, require_file
from volcast.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]

runner = CliRunner()
BTC = ["--symbol", "BTC/USD", "--interval", "1h"]
PARAMS = """\
profile:
  enabled: false
"""


def test_report_on_btc_opens_with_every_image(tmp_path: Path) -> None:
    chromium_executable()  # skip (or fail on CI) before the pipeline's minute
    (tmp_path / "params.yaml").write_text(PARAMS)  # the tests run in tmp_path
    csv = require_file(BTC_CSV)
    result = runner.invoke(app, ["pipeline", "--source", "csv", "--path", str(csv), *BTC])
    assert result.exit_code == 0, result.output

    html, md = tmp_path / "report.html", tmp_path / "report.md"
    result = runner.invoke(app, ["report", *BTC, "--output", str(html), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert "Diebold-Mariano" in text
    # self-contained: no script, no style sheet or image fetched from anywhere
    assert "<script" not in text
    assert "<link" not in text
    assert 'src="http' not in text
    summary = md.read_text()
    assert "### Backtest" in summary
    assert "| har |" in summary
    assert "### Promotion history" in summary
    assert "| v1 |" in summary

    with browser_page() as (page, console):
        page.goto(html.as_uri())
        images = page.evaluate(
            "[...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0}))"
        )
        titles = [i["alt"] for i in images]
        assert len(images) >= 3, titles  # forecast vs realized, errors, feature importance
        assert all(i["ok"] for i in images), images
        assert any("Feature importance" in t for t in titles), titles
        assert page.locator("table").count() >= 3  # data, backtest, promotion history
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        print(f"report: {html}  screenshot: {tmp_path / 'report.png'}")
        assert console.errors == []
