"""Storage on a local directory: round-trips, listing, layout paths and the content hash."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from volcast.errors import ConfigError
from volcast.storage import Layout, Storage, content_hash, storage_from_settings


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "close": rng.lognormal(size=n),
            "volume": rng.integers(0, 1000, size=n).astype("int64"),
            "source": pd.Series(["sample"] * n, dtype="string"),
        }
    )


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "store")


def test_bytes_round_trip_and_overwrite(storage: Storage) -> None:
    path = storage.write_bytes("raw/a/b.bin", b"\x00first")
    assert Path(path).read_bytes() == b"\x00first"
    assert storage.read_bytes("raw/a/b.bin") == b"\x00first"
    storage.write_bytes("raw/a/b.bin", b"second")
    assert storage.read_bytes("raw/a/b.bin") == b"second"


def test_json_round_trip(storage: Storage) -> None:
    obj = {"rows": 3, "symbol": "EUR/USD", "nested": {"x": [1.5, None]}}
    storage.write_json("curated/eurusd/1h/meta.json", obj)
    assert storage.read_json("curated/eurusd/1h/meta.json") == obj


def test_json_serialises_datetimes_as_text(storage: Storage) -> None:
    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    storage.write_json("m.json", {"at": stamp})
    assert storage.read_json("m.json") == {"at": str(stamp)}


def test_parquet_round_trip_keeps_values_and_dtypes(storage: Storage) -> None:
    frame = _frame()
    storage.write_parquet("datasets/x/1h/features.parquet", frame)
    back = storage.read_parquet("datasets/x/1h/features.parquet")
    pd.testing.assert_frame_equal(back, frame)


def test_parquet_drops_the_index(storage: Storage) -> None:
    frame = _frame().iloc[10:20]
    storage.write_parquet("f.parquet", frame)
    back = storage.read_parquet("f.parquet")
    assert list(back.index) == list(range(10))
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))


def test_exists_and_list(storage: Storage) -> None:
    assert not storage.exists("raw/s/x/1h/raw_1.json")
    assert storage.list("raw/s/x/1h") == []
    storage.write_bytes("raw/s/x/1h/raw_2.json", b"{}")
    storage.write_bytes("raw/s/x/1h/raw_1.json", b"{}")
    storage.write_bytes("raw/s/x/1h/sub/deeper.json", b"{}")
    assert storage.exists("raw/s/x/1h/raw_1.json")
    assert storage.list("raw/s/x/1h") == [
        "raw/s/x/1h/raw_1.json",
        "raw/s/x/1h/raw_2.json",
        "raw/s/x/1h/sub",
    ]


def test_list_hides_temporary_dotfiles(storage: Storage, tmp_path: Path) -> None:
    storage.write_bytes("d/real.parquet", b"x")
    (tmp_path / "store" / "d" / ".real.parquet.abc.tmp").write_bytes(b"partial")
    assert storage.list("d") == ["d/real.parquet"]


def test_write_leaves_no_temporary_file(storage: Storage, tmp_path: Path) -> None:
    storage.write_bytes("d/a.json", b"1")
    storage.write_bytes("d/a.json", b"2")
    assert sorted(p.name for p in (tmp_path / "store" / "d").iterdir()) == ["a.json"]


def test_read_missing_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("nothing/here.json")


def test_root_accepts_file_url_and_trailing_slash(tmp_path: Path) -> None:
    a = Storage(f"file://{tmp_path}/store/")
    b = Storage(tmp_path / "store")
    a.write_bytes("x.txt", b"same")
    assert b.read_bytes("x.txt") == b"same"
    assert a.url("x.txt") == b.url("/x.txt") == str(tmp_path / "store" / "x.txt")
    assert not a.remote


def test_storage_from_settings_uses_data_dir(data_dir: Path) -> None:
    storage = storage_from_settings()
    storage.write_json("reports/quality/x.json", {"ok": True})
    assert (data_dir / "reports" / "quality" / "x.json").exists()


def test_layout_raw_path_follows_spec() -> None:
    layout = Layout("EUR/USD", "1h")
    at = datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)
    assert layout.raw("twelvedata", at) == "raw/twelvedata/eurusd/1h/raw_20240305_070809.json"
    assert (
        layout.raw("binance", at, page=2) == "raw/binance/eurusd/1h/raw_20240305_070809_p002.json"
    )
    assert layout.raw("csv", at, ext="csv").endswith("raw_20240305_070809.csv")


def test_layout_paths() -> None:
    layout = Layout("BTC-USD", "15min")
    assert layout.slug == "btcusd"
    assert layout.staging_bars == "staging/btcusd/15min/bars.parquet"
    assert layout.staging_meta == "staging/btcusd/15min/meta.json"
    assert layout.curated_bars == "curated/btcusd/15min/bars.parquet"
    assert layout.curated_meta == "curated/btcusd/15min/meta.json"
    assert layout.dataset == "datasets/btcusd/15min/features.parquet"
    assert layout.dataset_meta == "datasets/btcusd/15min/meta.json"
    assert layout.quality_report == "reports/quality/btcusd_15min.json"
    assert layout.profile_report == "reports/profile/btcusd_15min.html"


def test_layout_rejects_symbol_without_letters() -> None:
    with pytest.raises(ConfigError, match="no letters or digits"):
        _ = Layout("/", "1h").slug


class TestContentHash:
    def test_stable_across_calls_and_copies(self) -> None:
        frame = _frame()
        digest = content_hash(frame)
        assert digest == content_hash(frame)
        assert digest == content_hash(frame.copy(deep=True))
        assert len(digest) == 64
        assert int(digest, 16) >= 0

    def test_stable_across_a_parquet_round_trip(self, storage: Storage) -> None:
        frame = _frame()
        storage.write_parquet("f.parquet", frame)
        assert content_hash(storage.read_parquet("f.parquet")) == content_hash(frame)

    def test_independent_of_index(self) -> None:
        frame = _frame()
        shifted = frame.set_axis(range(100, 100 + len(frame)))
        assert content_hash(shifted) == content_hash(frame)

    def test_changes_with_one_value(self) -> None:
        frame = _frame()
        changed = frame.copy()
        changed.loc[7, "close"] = changed.loc[7, "close"] + 1e-12
        assert content_hash(changed) != content_hash(frame)

    def test_changes_with_row_order(self) -> None:
        frame = _frame()
        assert content_hash(frame.iloc[::-1]) != content_hash(frame)

    def test_changes_with_a_column_name_or_order(self) -> None:
        frame = _frame()
        assert content_hash(frame.rename(columns={"close": "price"})) != content_hash(frame)
        assert content_hash(frame[frame.columns[::-1]]) != content_hash(frame)
        assert content_hash(frame.drop(columns="volume")) != content_hash(frame)

    def test_changes_with_a_dtype(self) -> None:
        frame = _frame()
        # int32 and int64 hash to the same per-row values: only the dtype record tells them apart.
        narrower = frame.astype({"volume": "int32"})
        assert content_hash(narrower) != content_hash(frame)
        assert content_hash(frame.astype({"volume": "float64"})) != content_hash(frame)


def test_zero_length_interval_is_a_config_error() -> None:
    from volcast.schemas import interval_seconds

    with pytest.raises(ConfigError, match="positive"):
        interval_seconds("0h")
