"""``volcast news ingest`` against a local server replaying real feed formats, then the
features stage with ``features.news: true``: the news columns enter the dataset and its
spec, only when switched on; a malformed feed fails with exit code 4 and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.unit.sources.conftest import ReplayServer, Reply
from volcast.cli import app
from volcast.features.news import NEWS_FEATURES

runner = CliRunner()
NEWS = Path(__file__).resolve().parents[1] / "fixtures" / "news"
SERIES = ["--symbol", "EUR/USD", "--interval", "1h"]
PARAMS = "sample:\n  n_bars: 700\nprofile:\n  enabled: false\n"


@pytest.fixture
def feeds() -> Iterator[ReplayServer]:
    server = ReplayServer()
    for path, name in (
        ("/rss", "rss_fx_headlines.xml"),
        ("/atom", "atom_markets.xml"),
        ("/json", "jsonfeed_fx.json"),
        ("/bad", "malformed_truncated.xml"),
    ):
        server.always(path, Reply(body=(NEWS / name).read_bytes()))
    server.start()
    yield server
    server.stop()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_news_ingest_then_features_with_and_without_news(
    feeds: ReplayServer, tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "params.yaml").write_text(PARAMS)
    code, out = invoke(
        "news", "ingest", "--symbol", "EUR/USD",
        "--feed", f"{feeds.url}/rss", "--feed", f"{feeds.url}/atom", "--feed", f"{feeds.url}/json",
    )  # fmt: skip
    assert code == 0, out
    assert "8 headline(s) from 3 feed(s), 8 new, 8 stored" in out
    raw = sorted(p.name for p in (data_dir / "raw" / "news" / "eurusd").iterdir())
    assert [name.rsplit(".", 1)[1] for name in raw] == ["xml", "xml", "json"]

    code, out = invoke("news", "ingest", "--symbol", "EUR/USD", "--feed", f"{feeds.url}/rss")
    assert code == 0, out
    assert "0 new, 8 stored" in out

    for stage in (["ingest", "--source", "sample"], ["validate"], ["features"]):
        code, out = invoke(*stage, *SERIES)
        assert code == 0, out
    dataset_dir = data_dir / "datasets" / "eurusd" / "1h"
    plain = pd.read_parquet(dataset_dir / "features.parquet")
    assert not set(NEWS_FEATURES) & set(plain.columns)

    (tmp_path / "params.yaml").write_text(PARAMS + "features:\n  news: true\n")
    code, out = invoke("features", *SERIES)
    assert code == 0, out
    meta = json.loads((dataset_dir / "meta.json").read_text())
    assert list(meta["feature_names"][-4:]) == list(NEWS_FEATURES)
    with_news = pd.read_parquet(dataset_dir / "features.parquet")
    assert with_news["news_count"].sum() == 8  # every stored headline falls inside the bars
    first = with_news.loc[with_news["news_count"] > 0, "timestamp"].min()
    assert first == pd.Timestamp("2024-01-01 18:00", tz="UTC")  # the 18:20 UTC JSON brief
    pd.testing.assert_frame_equal(with_news.drop(columns=list(NEWS_FEATURES)), plain)


def test_a_malformed_feed_exits_4_and_writes_nothing(feeds: ReplayServer, data_dir: Path) -> None:
    code, out = invoke("news", "ingest", "--symbol", "EUR/USD", "--feed", f"{feeds.url}/bad")
    assert code == 4, out
    assert "malformed XML" in out
    written = [p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()]
    assert [p for p in written if not p.startswith("logs/")] == []


def test_features_with_news_but_no_headlines_names_the_command(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "params.yaml").write_text(PARAMS + "features:\n  news: true\n")
    for stage in (["ingest", "--source", "sample"], ["validate"]):
        assert invoke(*stage, *SERIES)[0] == 0
    code, out = invoke("features", *SERIES)
    assert code == 6, out
    assert "volcast news ingest" in out
    assert not (data_dir / "datasets").exists()


@pytest.mark.slow
def test_a_champion_trained_with_news_is_served_and_streamed_with_the_stored_headlines(
    feeds: ReplayServer, tmp_path: Path, data_dir: Path
) -> None:
    from fastapi.testclient import TestClient

    from volcast.config import load_params
    from volcast.pipeline.champion import ChampionForecaster
    from volcast.series import Series
    from volcast.serving.app import create_app, default_service
    from volcast.serving.settings import ServingSettings
    from volcast.storage import Storage

    (tmp_path / "params.yaml").write_text(
        "sample:\n  n_bars: 1400\nprofile:\n  enabled: false\nfeatures:\n  news: true\n"
        "train:\n  candidates: [har, lightgbm]\n  min_train_bars: 400\n  refit_every: 400\n"
        "promotion:\n  window_bars: 200\n"
    )
    code, out = invoke("news", "ingest", "--symbol", "EUR/USD", "--feed", f"{feeds.url}/rss")
    assert code == 0, out
    for stage in (["ingest", "--source", "sample"], ["validate"], ["features"], ["train"]):
        code, out = invoke(*stage, *SERIES)
        assert code == 0, out
    code, out = invoke("promote", *SERIES)
    assert code == 0, out

    storage = Storage(data_dir)
    service_app = create_app(
        service_factory=lambda: default_service(settings=ServingSettings(), storage=storage),
        poll=False,
    )
    with TestClient(service_app, raise_server_exceptions=False) as client:
        answer = client.post("/predict", json={"symbol": "EUR/USD"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["variance"] > 0.0
        assert answer.json()["baseline"] is not None  # HAR, refitted without the news columns

    # the stream worker's forecaster joins the same headlines
    series = Series(symbol="EUR/USD", interval="1h")
    forecaster = ChampionForecaster(
        storage=storage, series=series, params=load_params(tmp_path / "params.yaml")
    )
    assert forecaster.refresh()
    assert forecaster.model is not None
    assert forecaster.model.builder.features.news
    bars = pd.read_parquet(data_dir / "curated" / "eurusd" / "1h" / "bars.parquet")
    made = forecaster.forecast(bars)
    assert made.variance > 0.0
    # without stored headlines the forecast fails naming the command that stores them
    (data_dir / "news" / "eurusd" / "headlines.parquet").unlink()
    with pytest.raises(Exception, match="volcast news ingest"):
        forecaster.forecast(bars)
