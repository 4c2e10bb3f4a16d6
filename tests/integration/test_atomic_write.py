"""Atomic writes: a writer killed or failing mid-write never damages the previous version."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from volcast.errors import StorageError
from volcast.storage import Storage, content_hash

pytestmark = pytest.mark.integration

_TARGET = "datasets/x/1h/blob.bin"
_BIG = 96 * 1024 * 1024  # long enough to write and fsync that a kill lands mid-write

_WRITER = textwrap.dedent(
    """
    import sys
    from volcast.storage import Storage

    storage = Storage(sys.argv[1])
    payload = b"N" * int(sys.argv[2])
    print("ready", flush=True)
    while True:
        storage.write_bytes(sys.argv[3], payload)
    """
)

_PARQUET_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    from volcast.storage import Storage

    storage = Storage(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[3]))
    frame = pd.DataFrame(rng.standard_normal((100_000, 20)), columns=[f"c{i}" for i in range(20)])
    print("ready", flush=True)
    while True:
        storage.write_parquet(sys.argv[2], frame)
    """
)


def _temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(".")] if directory.exists() else []


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    if process.stdout is not None:
        process.stdout.close()


@pytest.mark.slow
def test_sigkill_while_the_temp_file_is_written_keeps_the_old_version(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    old = bytes(range(256)) * 4096
    storage.write_bytes(_TARGET, old)
    directory = tmp_path / "store" / Path(_TARGET).parent

    process = _start(_WRITER, storage.root, str(_BIG), _TARGET)
    try:
        # The child's temp file exists and has bytes in it: it is mid-write. Kill it there.
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in _temp_files(directory)):
            assert time.monotonic() < deadline, "the writer never started its temp file"
            assert process.poll() is None, "the writer died on its own"
            time.sleep(0.001)
    finally:
        _kill(process)

    assert storage.read_bytes(_TARGET) == old
    leftovers = _temp_files(directory)
    assert leftovers, "SIGKILL cannot clean up: the partial temp file must still be there"
    assert all(p.stat().st_size < _BIG for p in leftovers)
    assert storage.list(str(Path(_TARGET).parent)) == [_TARGET]

    # The next successful write replaces the old version whole.
    storage.write_bytes(_TARGET, b"after")
    assert storage.read_bytes(_TARGET) == b"after"


@pytest.mark.slow
def test_sigkill_at_random_moments_always_leaves_a_whole_parquet(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    relpath = "datasets/x/1h/features.parquet"
    rng = np.random.default_rng(0)
    old = pd.DataFrame(rng.standard_normal((1000, 40)), columns=[f"c{i}" for i in range(40)])
    storage.write_parquet(relpath, old)
    seeds = [11, 12, 13]
    new_hashes = {
        content_hash(
            pd.DataFrame(
                np.random.default_rng(seed).standard_normal((100_000, 20)),
                columns=[f"c{i}" for i in range(20)],
            )
        )
        for seed in seeds
    }
    allowed = {content_hash(old), *new_hashes}
    pick = random.Random(1234)
    for seed in seeds:
        process = _start(_PARQUET_WRITER, storage.root, relpath, str(seed))
        time.sleep(pick.uniform(0.0, 1.0))
        _kill(process)
        # A torn file would fail to parse (Parquet's footer is written last) or hash differently.
        assert content_hash(storage.read_parquet(relpath)) in allowed
        assert storage.list("datasets/x/1h") == [relpath]


_FAILING_WRITER = textwrap.dedent(
    """
    import resource, signal, sys
    from volcast.errors import StorageError
    from volcast.storage import Storage

    storage = Storage(sys.argv[1])
    # The disk "fills up" after 1 MiB: write() fails with EFBIG part-way through the data.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    try:
        storage.write_bytes(sys.argv[2], b"N" * (8 << 20))
    except StorageError as exc:
        print("StorageError:", exc)
        sys.exit(3)
    sys.exit(0)
    """
)


def test_a_write_failing_part_way_keeps_the_old_version_and_cleans_up(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    old = b"old version\n" * 1000
    storage.write_bytes(_TARGET, old)
    result = subprocess.run(
        [sys.executable, "-c", _FAILING_WRITER, storage.root, _TARGET],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot write" in result.stdout
    assert _TARGET in result.stdout
    assert storage.read_bytes(_TARGET) == old
    assert _temp_files(tmp_path / "store" / Path(_TARGET).parent) == []


def test_a_frame_that_cannot_be_serialised_keeps_the_old_version(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    relpath = "curated/x/1h/bars.parquet"
    old = pd.DataFrame({"close": [1.0, 2.0, 3.0]})
    storage.write_parquet(relpath, old)
    # pyarrow cannot convert a column mixing dicts and floats: to_parquet fails mid-way.
    bad = pd.DataFrame({"close": [1.0, {"not": "a price"}, 3.0]})
    with pytest.raises(StorageError, match=r"cannot write .*bars\.parquet"):
        storage.write_parquet(relpath, bad)
    pd.testing.assert_frame_equal(storage.read_parquet(relpath), old)
    assert storage.list("curated/x/1h") == [relpath]
    assert _temp_files(tmp_path / "store" / "curated" / "x" / "1h") == []
