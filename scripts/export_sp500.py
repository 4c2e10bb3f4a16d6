"""Write the S&P 500 daily bars bundled with ``arch`` as a CSV in volcast's file contract.

``arch.data.sp500.load()`` holds the index's daily Open, High, Low, Close, Adj Close and
Volume from 1999-01-04 to 2018-12-31 (5031 trading days, no missing values). The CSV gets
``timestamp,open,high,low,close,volume`` with ISO-8601 UTC timestamps (the trading date at
00:00Z, the bar's opening stamp as for every volcast interval). ``Close`` is used, not
``Adj Close``: for an index they are identical, and only ``Close`` is consistent with the
day's high and low. The file is written atomically (a temporary file in the same directory,
then a rename), so a reader never sees half a file. ``--dataset nasdaq`` writes the NASDAQ
Composite bars that ``arch.data.nasdaq`` bundles in the same layout and dates instead.

    uv run python scripts/export_sp500.py sp500.csv
    uv run python scripts/export_sp500.py --dataset nasdaq nasdaq.csv
    uv run volcast backtest --source csv --path sp500.csv --symbol SPX --interval 1d
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from arch.data import nasdaq, sp500

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
"""``arch`` column -> volcast column."""


DATASETS = {"sp500": ("S&P 500", "SPX"), "nasdaq": ("NASDAQ Composite", "NASDAQ")}
"""``arch.data`` daily OHLCV sets in the same layout: name -> (label, symbol)."""


def sp500_bars(dataset: str = "sp500") -> pd.DataFrame:
    """Bundled daily bars (S&P 500 by default, or ``nasdaq``: the NASDAQ Composite, same dates
    and layout) as ``BAR_COLUMNS``, ascending, timestamps tz-aware UTC."""
    if dataset not in DATASETS:
        raise DataQualityError(f"unknown arch dataset {dataset!r}; use one of {sorted(DATASETS)}")
    label, symbol = DATASETS[dataset]
    raw = (sp500 if dataset == "sp500" else nasdaq).load()
    missing = [c for c in SOURCE_COLUMNS if c not in raw.columns]
    if missing:
        raise DataQualityError(
            f"arch's {label} data lacks the column(s) {missing}; it has {list(raw.columns)}",
            failed_checks=["required_columns"],
            symbol=symbol,
        )
    bars = raw[list(SOURCE_COLUMNS)].rename(columns=SOURCE_COLUMNS)
    stamps = pd.DatetimeIndex(raw.index)
    bars.insert(0, TIMESTAMP, stamps.tz_localize("UTC") if stamps.tz is None else stamps)
    return bars.sort_values(TIMESTAMP).reset_index(drop=True)[list(BAR_COLUMNS)]


def export_sp500(path: Path, dataset: str = "sp500") -> Path:
    """Write :func:`sp500_bars` to ``path`` as CSV, atomically; returns the resolved path.

    Parent directories are created. Timestamps are written as ``YYYY-MM-DDTHH:MM:SSZ``.
    """
    target = Path(path).resolve()
    data = sp500_bars(dataset).to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode()
    Storage(target.parent).write_bytes(target.name, data)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``export_sp500.py OUTPUT.csv``; prints the path and the row count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="CSV file to write (replaced if it exists)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="sp500")
    args = parser.parse_args(argv)
    written = export_sp500(args.output, args.dataset)
    rows = sum(1 for _ in written.open()) - 1
    print(f"{written} ({rows} daily bars)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
