"""Publishing rows: an unchanged, materialised bar costs no Feast run; a changed one does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from volcast.errors import FeatureStoreError
from volcast.featurestore import FeatureStoreSettings, Publisher
from volcast.series import Series

SERIES = Series("EUR/USD", "1h")


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    settings = FeatureStoreSettings(
        repo=tmp_path / "feature_repo", script=tmp_path / "no-such-feast.sh"
    )
    target = Publisher(settings, data_dir=tmp_path / "data")
    stamps = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    rows = pd.DataFrame({"timestamp": stamps, "x": [1.0, 2.0, float("nan")], "rv": 1e-6})
    path = target.table_path(SERIES)
    path.parent.mkdir(parents=True)
    rows.insert(0, "series", "eurusd/1h")
    rows.to_parquet(path, index=False)
    end = (stamps[-1] + pd.Timedelta(seconds=1)).isoformat()
    (target.home / "materialized.json").write_text(json.dumps({"volcast_eurusd_1h": end}))
    return target


def last_row(x: float) -> pd.DataFrame:
    stamp = pd.Timestamp("2024-01-01T02:00:00Z")
    return pd.DataFrame({"timestamp": [stamp], "x": [x], "rv": [1e-6], "target": [0.0]})


def test_an_unchanged_materialised_bar_is_not_published_again(publisher: Publisher) -> None:
    assert publisher.publish_rows(SERIES, last_row(float("nan")), ["x", "rv"]) is None


def test_a_changed_bar_is_written_and_materialised(publisher: Publisher) -> None:
    with pytest.raises(FeatureStoreError, match=r"no-such-feast\.sh materialize"):
        publisher.publish_rows(SERIES, last_row(3.0), ["x", "rv"])
    table = pd.read_parquet(publisher.table_path(SERIES))
    assert table["x"].tolist()[:2] == [1.0, 2.0]
    assert table["x"].iloc[-1] == 3.0  # the offline table holds the new value
    assert len(table) == 3


def test_a_remote_data_directory_is_refused() -> None:
    with pytest.raises(FeatureStoreError, match="local data directory"):
        Publisher(FeatureStoreSettings(), data_dir="s3://bucket/data")
