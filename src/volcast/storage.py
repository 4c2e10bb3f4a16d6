"""Data store: one code path for a local directory and ``s3://`` (MinIO, S3, moto).

Layout under the data directory (``VOLCAST_DATA_DIR``)::

    raw/<source>/<slug>/<interval>/raw_YYYYMMDD_HHMMSS[_pNNN].<ext>   untouched payloads
    staging/<slug>/<interval>/bars.parquet      ingested, not yet gated increment
    staging/<slug>/<interval>/meta.json         source of the increment
    curated/<slug>/<interval>/bars.parquet      gated, deduplicated, time-ordered bars
    curated/<slug>/<interval>/meta.json         source, row count, first/last bar, content hash
    datasets/<slug>/<interval>/features.parquet features + target, one row per bar
    datasets/<slug>/<interval>/meta.json        content hash, feature config, rows
    reports/quality/<slug>_<interval>.json      latest quality-gate report
    reports/profile/<slug>_<interval>.html      ydata-profiling report of the dataset
    reports/backtest/<slug>_<interval>_*        walk-forward predictions of every candidate
    reports/promotion/<slug>_<interval>/        markdown comparison report + forecast plot

Every write is atomic: locally a temporary file in the same directory, fsync, then
``os.replace``; on object stores a single PUT, which readers see whole or not at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd

from volcast.errors import StorageError
from volcast.series import Layout

__all__ = ["Layout", "Storage", "atomic_write", "content_hash", "storage_from_settings"]


def _is_remote(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


class Storage:
    """Read and write bytes, JSON and Parquet under a root (a path or an ``s3://`` URL)."""

    def __init__(self, root: str | Path, *, storage_options: dict[str, Any] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.remote = _is_remote(self.root)
        if self.remote:
            protocol = self.root.split("://", 1)[0]
            # No listing cache: another process (pipeline vs API) may write between two reads,
            # and a cached listing would hide new files and give stale sizes of overwritten ones.
            options = {"use_listings_cache": False, **(storage_options or {})}
            self.fs = fsspec.filesystem(protocol, **options)
        else:
            self.root = str(Path(self.root.removeprefix("file://")).resolve())
            self.fs = fsspec.filesystem("file")

    def url(self, relpath: str) -> str:
        """Full path or URL of ``relpath`` under the root."""
        return f"{self.root}/{relpath.lstrip('/')}"

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` exists."""
        try:
            return bool(self.fs.exists(self.url(relpath)))
        except Exception as exc:  # network / permission errors from fsspec backends
            raise StorageError(f"cannot check {self.url(relpath)}: {exc}") from exc

    def read_bytes(self, relpath: str) -> bytes:
        """The content of ``relpath``."""
        try:
            with self.fs.open(self.url(relpath), "rb") as fh:
                data: bytes = fh.read()
                return data
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise StorageError(f"cannot read {self.url(relpath)}: {exc}") from exc

    def write_bytes(self, relpath: str, data: bytes) -> str:
        """Write ``data`` to ``relpath`` atomically; returns the full path."""
        target = self.url(relpath)
        try:
            if self.remote:
                self.fs.pipe_file(target, data)
                self.fs.invalidate_cache()
                return target
            atomic_write(Path(target), data)
            return target
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"cannot write {target}: {exc}") from exc

    def read_json(self, relpath: str) -> Any:
        """Parse the JSON document at ``relpath``."""
        return json.loads(self.read_bytes(relpath))

    def write_json(self, relpath: str, obj: Any) -> str:
        """Write ``obj`` as indented JSON, atomically."""
        text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
        return self.write_bytes(relpath, text.encode("utf-8"))

    def read_parquet(self, relpath: str) -> pd.DataFrame:
        """Read a Parquet file written by :meth:`write_parquet`."""
        return pd.read_parquet(io.BytesIO(self.read_bytes(relpath)))

    def write_parquet(self, relpath: str, frame: pd.DataFrame) -> str:
        """Write ``frame`` as Parquet, atomically (serialised in memory, then one write)."""
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False, engine="pyarrow")
        except Exception as exc:  # pyarrow's ArrowInvalid / ArrowTypeError / ValueError
            raise StorageError(
                f"cannot write {self.url(relpath)}: frame is not serialisable as Parquet: {exc}"
            ) from exc
        return self.write_bytes(relpath, buffer.getvalue())

    def list(self, relpath: str) -> list[str]:
        """Paths (relative to the root) of the files directly under ``relpath``; [] if none."""
        base = self.url(relpath)
        try:
            if not self.fs.exists(base):
                return []
            entries = self.fs.ls(base, detail=False)
        except Exception as exc:
            raise StorageError(f"cannot list {base}: {exc}") from exc
        root = self.root if not self.remote else self.root.split("://", 1)[1]
        out = []
        for entry in entries:
            name = str(entry)
            rel = name[len(root) :].lstrip("/") if name.startswith(root) else name
            if not Path(rel).name.startswith("."):
                out.append(rel)
        return sorted(out)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _sweep_orphans(target: Path) -> None:
    """Remove temp files of ``target`` left by writers that died mid-write (SIGKILL, crash).

    A temp file is named ``.<name>.<pid>.<random>.tmp``; only those whose writer process no
    longer exists are removed, so a concurrent live writer keeps its own.
    """
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to the local file ``path`` atomically: temp file, fsync, ``os.replace``.

    A reader sees the old content or the new one, never a part. A failing write removes its
    temp file; a writer killed mid-write leaves one, which the next write of ``path`` removes.
    Raises OSError as the file system reports it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sweep_orphans(path)


def content_hash(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a frame's content (values, column names and order, dtypes)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256()
    digest.update(json.dumps([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(hashed.tobytes())
    return digest.hexdigest()


def storage_from_settings() -> Storage:
    """The data store configured by ``VOLCAST_DATA_DIR`` (and ``VOLCAST_S3_ENDPOINT_URL``)."""
    from volcast.config import get_settings

    settings = get_settings()
    return Storage(settings.data_dir, storage_options=settings.storage_options())
