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
_SIZE = 4 * 1024 * 1024

# The child announces the exact point of the write it is at, then holds there until killed,
# so the kill provably lands inside ``Storage.write_bytes`` (not before or after it).
_HELD_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from volcast.storage import Storage

    root, relpath, size, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    real_fdopen, real_fsync = os.fdopen, os.fsync

    def announce_and_hold(where):
        print(where, flush=True)
        time.sleep(3600)

    class HalfThenHold:
        # The temp file object: writes half of the data, then holds mid-data.
        def __init__(self, fh):
            self.fh = fh
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)
        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            announce_and_hold("mid-data")
        def __getattr__(self, name):
            return getattr(self.fh, name)

    if hold == "mid-data":
        os.fdopen = lambda *a, **k: HalfThenHold(real_fdopen(*a, **k))
    else:  # every byte written and synced, the rename not done yet
        os.fsync = lambda fd: (real_fsync(fd), announce_and_hold("before-rename"))
    Storage(root).write_bytes(relpath, b"N" * size)
    print("finished", flush=True)
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


def _start(script: str, *args: str, ready: str = "ready") -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != ready:
        process.kill()
        process.wait(timeout=30)
        pytest.fail(f"the writer said {line!r}, not {ready!r}")
    return process


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    if process.stdout is not None:
        process.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("old_version", [True, False], ids=["replacing", "new-file"])
@pytest.mark.parametrize("hold", ["mid-data", "before-rename"])
def test_sigkill_inside_the_write_keeps_the_old_version(
    tmp_path: Path, hold: str, old_version: bool
) -> None:
    storage = Storage(tmp_path / "store")
    directory = tmp_path / "store" / Path(_TARGET).parent
    old = bytes(range(256)) * 4096
    if old_version:
        storage.write_bytes(_TARGET, old)

    process = _start(_HELD_WRITER, storage.root, _TARGET, str(_SIZE), hold, ready=hold)
    try:
        # Proof that the kill lands mid-write: the child said where it is and holds there,
        # and its temp file is on disk with exactly the bytes written so far.
        temps = _temp_files(directory)
        assert len(temps) == 1, temps
        assert temps[0].stat().st_size == (_SIZE // 2 if hold == "mid-data" else _SIZE)
        assert f".{process.pid}." in temps[0].name  # the writer's pid tags its temp file
    finally:
        _kill(process)

    if old_version:
        assert storage.read_bytes(_TARGET) == old
    else:
        assert not storage.exists(_TARGET)
    assert storage.list(str(Path(_TARGET).parent)) == ([_TARGET] if old_version else [])
    # SIGKILL leaves the dead writer's temp file; readers never see it, the next write of
    # the target removes it, so nothing is left behind.
    assert len(_temp_files(directory)) == 1
    storage.write_bytes(_TARGET, b"after")
    assert storage.read_bytes(_TARGET) == b"after"
    assert _temp_files(directory) == []


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
