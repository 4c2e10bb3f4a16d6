"""test -> master: fetch the live ``@champion`` of one series from the registry.

Prints ``model=<registered name>``, ``version=<N>`` and ``files=<dir>`` (one a line, the
step outputs of scripts/ci/fetch_champion.sh) after downloading the champion's model files
(MLmodel, serving_input_example.json, ...) into ``--output-dir``. Exits 6 when the series has
no champion, 8 when the registry cannot be reached (volcast's exit codes).

    MLFLOW_TRACKING_URI=http://mlflow:5000 python scripts/ci/champion.py \
        --symbol EUR/USD --interval 1h --output-dir reports/ci/champion
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from volcast.config import get_settings
from volcast.errors import VolcastError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--interval", required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    from volcast.registry import CHAMPION, load_model, model_artifacts_dir

    try:
        loaded = load_model(
            args.symbol, args.interval, CHAMPION, tracking_uri=get_settings().tracking_uri()
        )
        args.output_dir.mkdir(parents=True, exist_ok=True)
        files = model_artifacts_dir(loaded, dst=args.output_dir)
    except VolcastError as exc:
        print(f"champion: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"model={loaded.name}")
    print(f"version={loaded.version}")
    print(f"files={files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
