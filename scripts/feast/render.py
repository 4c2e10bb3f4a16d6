"""Render the Feast repository's configuration from the environment (run by scripts/feast.sh).

Runs in the Feast environment, so it imports nothing of volcast. It writes, under the feature
store home (``$VOLCAST_FEAST_HOME``, default ``<data dir>/feature_store``):

- ``feature_store.yaml``: the offline store on the Parquet tables under ``offline/``, the
  registry ``registry.db``, the online store SQLite (``online.db``) or Redis when
  ``VOLCAST_FEAST_ONLINE=redis://host:port[/db]``;
- ``spec.json``: one feature view per series whose offline table volcast wrote
  (``offline/<slug>_<interval>.parquet``), with the feature names of the dataset the feature
  builder wrote (``datasets/<slug>/<interval>/meta.json``: ``feature_names``, then ``rv``) and
  its TTL (``VOLCAST_FEAST_TTL_BARS`` bars of the interval, default 3). ``feature_repo/
  volcast_features.py`` builds the Feast objects from it, so a new feature needs no edit.

Prints ``apply`` when either file changed since the last ``feast apply`` (scripts/feast.sh then
applies), nothing otherwise. Exit code 2 with a reason on bad settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def interval_seconds(interval: str) -> int:
    number, unit = interval[:-1], interval[-1:]
    if not number.isdigit() or unit not in SECONDS or int(number) < 1:
        raise ValueError(f"unknown bar interval {interval!r}")
    return int(number) * SECONDS[unit]


def online_store(url: str, home: Path) -> str:
    """The ``online_store`` section: SQLite under ``home``, or Redis from a redis:// URL."""
    if not url:
        return f"online_store:\n  type: sqlite\n  path: {home / 'online.db'}\n"
    parsed = urlparse(url)
    if parsed.scheme != "redis" or not parsed.hostname or not parsed.port:
        raise ValueError(f"VOLCAST_FEAST_ONLINE must be redis://HOST:PORT[/DB], got {url!r}")
    db = parsed.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"VOLCAST_FEAST_ONLINE: database {db!r} is not a number")
    conn = f"{parsed.hostname}:{parsed.port},db={db}"
    if parsed.password:  # from the environment only; the file stays under the data directory
        conn += f",password={parsed.password}"
    return f'online_store:\n  type: redis\n  connection_string: "{conn}"\n'


def feature_views(data_dir: Path, home: Path, ttl_bars: float) -> list[dict[str, object]]:
    """One view per series with an offline table: its features (the builder's, then ``rv``)."""
    views: list[dict[str, object]] = []
    for meta_path in sorted(data_dir.glob("datasets/*/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        slug, interval = meta_path.parent.parent.name, str(meta["interval"])
        table = home / "offline" / f"{slug}_{interval}.parquet"
        if not table.exists():  # volcast writes it before it calls Feast (Feast disabled before)
            continue
        views.append(
            {
                "name": f"volcast_{slug}_{interval}",
                "series": f"{slug}/{interval}",
                "interval": interval,
                "ttl_seconds": int(ttl_bars * interval_seconds(interval)),
                "features": [*meta["feature_names"], "rv"],
                "path": str(table),
            }
        )
    return views


def main() -> int:
    data_dir = Path(os.environ["VOLCAST_DATA_DIR"])
    home = Path(os.environ["VOLCAST_FEAST_HOME"])
    try:
        ttl_bars = float(os.environ.get("VOLCAST_FEAST_TTL_BARS", "3"))
        if not ttl_bars > 0:
            raise ValueError(f"VOLCAST_FEAST_TTL_BARS must be > 0, got {ttl_bars}")
        online = online_store(os.environ.get("VOLCAST_FEAST_ONLINE", ""), home)
        views = feature_views(data_dir, home, ttl_bars)
    except (ValueError, KeyError) as exc:
        print(f"feast.sh: {exc}", file=sys.stderr)
        return 2
    home.mkdir(parents=True, exist_ok=True)
    yaml = (
        "# written by scripts/feast/render.py from the environment: do not edit\n"
        f"project: {os.environ.get('VOLCAST_FEAST_PROJECT', 'volcast')}\n"
        f"registry: {home / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: file\n"
        f"{online}"
        "entity_key_serialization_version: 3\n"
    )
    spec = {"views": views}
    for name, text in (("feature_store.yaml", yaml), ("spec.json", json.dumps(spec, indent=1))):
        path = home / name
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
    digest = hashlib.sha256((yaml + json.dumps(spec)).encode()).hexdigest()
    applied = home / ".applied"
    changed = not applied.exists() or applied.read_text() != digest
    if changed:
        print("apply")
    (home / ".pending").write_text(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
