"""Storage on ``s3://`` through the same code path, against moto's real S3 server over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import numpy as np
import pandas as pd
import pytest

from tests.helpers import listening_port
from volcast.config import get_settings
from volcast.storage import Layout, Storage, content_hash, storage_from_settings

pytestmark = pytest.mark.integration

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "volcast-test",
    "AWS_SECRET_ACCESS_KEY": "volcast-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moto_server`` in its own process on a free loopback port; yields its URL."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, **_FAKE_CREDENTIALS}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{listening_port(process, timeout=60)}"  # OS-chosen port
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(f"moto_server exited: {log_path.read_text(errors='replace')}")
                try:
                    httpx.get(f"{url}/moto-api/", timeout=1.0)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail("moto_server did not answer within 60 s")
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def s3_client(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in _FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"volcast-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(
    bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Storage]:
    """The store configured exactly as a deployment would: environment variables only."""
    monkeypatch.setenv("VOLCAST_DATA_DIR", f"s3://{bucket}/prefix")
    monkeypatch.setenv("VOLCAST_S3_ENDPOINT_URL", moto_endpoint)
    get_settings.cache_clear()
    storage = storage_from_settings()
    yield storage
    storage.fs.invalidate_cache()


def _frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "close": rng.lognormal(size=n),
            "volume": rng.integers(0, 1000, size=n).astype("int64"),
        }
    )


def test_settings_select_the_s3_backend(s3_storage: Storage, bucket: str) -> None:
    assert s3_storage.remote
    assert s3_storage.url("a/b.json") == f"s3://{bucket}/prefix/a/b.json"


def test_round_trips_land_in_the_bucket(s3_storage: Storage, s3_client: Any, bucket: str) -> None:
    layout = Layout("EUR/USD", "1h")
    frame = _frame()
    s3_storage.write_bytes("raw/sample/eurusd/1h/raw_20240101_000000.json", b'{"v": 1}')
    s3_storage.write_json(layout.curated_meta, {"rows": len(frame), "hash": content_hash(frame)})
    s3_storage.write_parquet(layout.curated_bars, frame)

    assert s3_storage.read_bytes("raw/sample/eurusd/1h/raw_20240101_000000.json") == b'{"v": 1}'
    assert s3_storage.read_json(layout.curated_meta) == {
        "rows": len(frame),
        "hash": content_hash(frame),
    }
    back = s3_storage.read_parquet(layout.curated_bars)
    pd.testing.assert_frame_equal(back, frame)
    assert content_hash(back) == content_hash(frame)

    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {
        "prefix/raw/sample/eurusd/1h/raw_20240101_000000.json",
        "prefix/curated/eurusd/1h/meta.json",
        "prefix/curated/eurusd/1h/bars.parquet",
    }


def test_exists_and_list(s3_storage: Storage) -> None:
    assert s3_storage.list("raw/x") == []
    assert not s3_storage.exists("raw/x/b.json")
    s3_storage.write_bytes("raw/x/b.json", b"b")
    s3_storage.write_bytes("raw/x/a.json", b"a")
    assert s3_storage.exists("raw/x/b.json")
    assert s3_storage.list("raw/x") == ["raw/x/a.json", "raw/x/b.json"]


def test_list_paths_are_relative_to_the_root(s3_storage: Storage) -> None:
    s3_storage.write_bytes("raw/y/one.json", b"1")
    listed = s3_storage.list("raw/y")
    assert listed == ["raw/y/one.json"]
    assert s3_storage.read_bytes(listed[0]) == b"1"


def test_overwrite_is_never_stale_through_the_same_filesystem(s3_storage: Storage) -> None:
    s3_storage.write_bytes("d/v.bin", b"short")
    assert s3_storage.list("d") == ["d/v.bin"]  # fills s3fs's listing cache
    assert s3_storage.read_bytes("d/v.bin") == b"short"
    s3_storage.write_bytes("d/v.bin", b"a much longer second version")
    s3_storage.write_bytes("d/w.bin", b"new")
    assert s3_storage.read_bytes("d/v.bin") == b"a much longer second version"
    assert s3_storage.list("d") == ["d/v.bin", "d/w.bin"]


def test_writes_by_another_process_are_seen(
    s3_storage: Storage, s3_client: Any, bucket: str
) -> None:
    """A reader (the API) sees what another process (the pipeline) wrote after it listed."""
    s3_storage.write_bytes("d/v.bin", b"short")
    assert s3_storage.list("d") == ["d/v.bin"]
    assert s3_storage.read_bytes("d/v.bin") == b"short"
    s3_client.put_object(Bucket=bucket, Key="prefix/d/v.bin", Body=b"a much longer version")
    s3_client.put_object(Bucket=bucket, Key="prefix/d/w.bin", Body=b"new")
    assert s3_storage.exists("d/w.bin")
    assert s3_storage.list("d") == ["d/v.bin", "d/w.bin"]
    assert s3_storage.read_bytes("d/v.bin") == b"a much longer version"
    s3_client.delete_object(Bucket=bucket, Key="prefix/d/w.bin")
    assert not s3_storage.exists("d/w.bin")
    assert s3_storage.list("d") == ["d/v.bin"]


def test_a_second_storage_on_the_same_root_reads_the_same_objects(
    s3_storage: Storage, moto_endpoint: str
) -> None:
    other = Storage(
        s3_storage.root, storage_options={"client_kwargs": {"endpoint_url": moto_endpoint}}
    )
    frame = _frame(seed=5)
    s3_storage.write_parquet("datasets/z/1h/features.parquet", frame)
    assert content_hash(other.read_parquet("datasets/z/1h/features.parquet")) == content_hash(frame)
