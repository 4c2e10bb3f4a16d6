"""Write the real bars bundled with ``backtesting`` (backtesting.py) as a volcast CSV.

The ``backtesting`` package (a dev dependency) ships two real OHLCV series in
``backtesting/test``:

- ``eurusd``: EUR/USD hourly bars, 2017-04-19 09:00 to 2018-02-07 15:00 (5,000 bars). FX
  trades around the clock on weekdays only: the last bar of a week starts on Friday 20:00
  and the first of the next on Sunday 21:00, so the file has 42 weekend (and holiday)
  gaps of two days or more. The timestamps carry no zone; they are UTC (the market reopens
  at 21:00 in US summer time and at 22:00 from November, as FX does in UTC) and are written
  as such;
- ``goog``: Alphabet (GOOG) daily bars, 2004-08-19 to 2013-03-01 (2,148 days).

The CSV gets ``timestamp,open,high,low,close,volume`` with ISO-8601 UTC timestamps (the
bar's opening stamp, as for every volcast interval). Nothing is filled or removed: the
weekend gaps stay gaps, which volcast's gate and cleaning handle as they do for any FX
source (``clean_bars`` only fills isolated one-bar holes; features count in bars across a
weekend). The file is written atomically.

    uv run python scripts/export_backtesting.py eurusd.csv
    uv run volcast backtest --source csv --path eurusd.csv --symbol EUR/USD --interval 1h
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from volcast.errors import DataQualityError
from volcast.schemas import BAR_COLUMNS, TIMESTAMP
from volcast.storage import Storage

SOURCE_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
}
"""``backtesting`` column -> volcast column."""

DATASETS = {"eurusd": ("EUR/USD", "EUR/USD", "1h"), "goog": ("Alphabet (GOOG)", "GOOG", "1d")}
"""name -> (label, symbol, interval)."""


def backtesting_bars(dataset: str = "eurusd") -> pd.DataFrame:
    """The bundled bars of ``dataset`` as ``BAR_COLUMNS``, ascending, timestamps UTC."""
    if dataset not in DATASETS:
        raise DataQualityError(f"unknown dataset {dataset!r}; use one of {sorted(DATASETS)}")
    from backtesting import test

    raw: pd.DataFrame = getattr(test, dataset.upper()).copy()
    missing = [c for c in SOURCE_COLUMNS if c not in raw.columns]
    if missing:
        raise DataQualityError(
            f"backtesting's {dataset} data lacks the column(s) {missing}",
            failed_checks=["required_columns"],
            symbol=DATASETS[dataset][1],
        )
    bars = raw[list(SOURCE_COLUMNS)].rename(columns=SOURCE_COLUMNS)
    stamps = pd.DatetimeIndex(raw.index)
    bars.insert(0, TIMESTAMP, stamps.tz_localize("UTC") if stamps.tz is None else stamps)
    return bars.sort_values(TIMESTAMP).reset_index(drop=True)[list(BAR_COLUMNS)]


def export_backtesting(path: Path, dataset: str = "eurusd") -> Path:
    """Write :func:`backtesting_bars` to ``path`` as CSV, atomically; returns the path."""
    target = Path(path).resolve()
    frame = backtesting_bars(dataset)
    data = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode()
    Storage(target.parent).write_bytes(target.name, data)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``export_backtesting.py [--dataset goog] OUTPUT.csv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="CSV file to write (replaced if it exists)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="eurusd")
    args = parser.parse_args(argv)
    written = export_backtesting(args.output, args.dataset)
    rows = sum(1 for _ in written.open()) - 1
    label, _, interval = DATASETS[args.dataset]
    print(f"{written} ({rows} {label} {interval} bars)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
