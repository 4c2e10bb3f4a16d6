"""Point-in-time correct training rows from the offline store (run by scripts/feast.sh --python).

    scripts/feast.sh --python scripts/feast/historical.py ENTITIES.parquet OUT.parquet

``ENTITIES.parquet`` holds ``series`` (``<slug>/<interval>``) and ``event_timestamp`` (UTC);
``OUT.parquet`` gets every feature of each series' view as of that time (Feast's
``get_historical_features``: the latest row at or before it, within the view's TTL, else
null). Runs in the Feast environment; imports nothing of volcast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
from feast import FeatureStore


def main(entities_path: str, out_path: str) -> int:
    home = Path(os.environ["VOLCAST_FEAST_HOME"])
    repo = os.environ.get("VOLCAST_FEAST_REPO") or str(Path(__file__).parents[2] / "feature_repo")
    store = FeatureStore(repo_path=repo, fs_yaml_file=home / "feature_store.yaml")
    spec = json.loads((home / "spec.json").read_text())
    entities = pd.read_parquet(entities_path)
    frames = []
    for view in spec["views"]:
        rows = entities[entities["series"] == view["series"]]
        if rows.empty:
            continue
        job = store.get_historical_features(
            entity_df=rows.reset_index(drop=True),
            features=[f"{view['name']}:{name}" for name in view["features"]],
        )
        frames.append(job.to_df())
    if not frames:
        print(f"historical.py: no view for the series in {entities_path}", file=sys.stderr)
        return 2
    out = pd.concat(frames, ignore_index=True).sort_values(["series", "event_timestamp"])
    out.reset_index(drop=True).to_parquet(out_path, index=False)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
