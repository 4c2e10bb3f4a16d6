"""Contract every offline source honours, run over each source class found automatically.

Live sources have their own replay tests. Every class under ``volcast.sources`` with
``live = False`` must have a ``FACTORIES`` entry (a new class fails the coverage test until
it gets one); each instance is then checked for determinism, untouched inputs, the bar
schema and pickling (river's estimator checks, applied to sources).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import volcast.sources
from volcast.schemas import BAR_COLUMNS, PRICE_COLUMNS
from volcast.sources.base import Source
from volcast.sources.csv import CsvSource
from volcast.sources.registry import SOURCES
from volcast.sources.sample import SampleSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"
SYMBOL, INTERVAL = "EUR/USD", "1h"


def _parquet_copy(tmp_path: Path) -> Path:
    path = tmp_path / "standard.parquet"
    frame = pd.read_csv(FIXTURES / "standard.csv")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame.to_parquet(path)
    return path


FACTORIES: dict[str, Callable[[Path], Source]] = {
    "sample": lambda _: SampleSource(
        n_bars=300, seed=11, start="2024-03-01T00:00:00Z", regime_shift_at=0.7
    ),
    "csv": lambda _: CsvSource(path=FIXTURES / "standard.csv"),
    "csv-options": lambda _: CsvSource(
        path=FIXTURES / "custom_format.csv",
        timestamp_column="When",
        timestamp_format="%d/%m/%Y %H:%M",
        skip_rows=2,
    ),
    "parquet": lambda tmp_path: CsvSource(path=_parquet_copy(tmp_path)),
}
COVERS: dict[str, type] = {
    "sample": SampleSource,
    "csv": CsvSource,
    "csv-options": CsvSource,
    "parquet": CsvSource,
}


def offline_source_classes() -> list[type]:
    """Every class defined in a volcast.sources module that looks like a non-live Source."""
    found = []
    for module_info in pkgutil.iter_modules(volcast.sources.__path__):
        module = importlib.import_module(f"volcast.sources.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls is Source:
                continue
            if not callable(getattr(cls, "fetch", None)) or not isinstance(
                getattr(cls, "name", None), str
            ):
                continue
            if getattr(cls, "live", True) is False:
                found.append(cls)
    return found


def test_every_offline_source_is_covered() -> None:
    classes = offline_source_classes()
    assert SampleSource in classes
    assert CsvSource in classes
    missing = [cls.__name__ for cls in classes if cls not in COVERS.values()]
    assert not missing, f"add a FACTORIES entry for {missing}"


@pytest.fixture(params=sorted(FACTORIES))
def make_source(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Source]:
    factory = FACTORIES[request.param]
    return lambda: factory(tmp_path)


def test_is_a_registered_offline_source(make_source: Callable[[], Source]) -> None:
    source = make_source()
    assert isinstance(source, Source)
    assert source.live is False
    assert source.name in SOURCES


def test_bar_schema(make_source: Callable[[], Source]) -> None:
    bars = make_source().fetch(symbol=SYMBOL, interval=INTERVAL)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    for column in PRICE_COLUMNS:
        assert bars[column].dtype == "float64", column
    assert bars["volume"].dtype == "float64"
    assert len(bars) >= 3
    assert bars["timestamp"].is_monotonic_increasing
    assert bars["timestamp"].is_unique
    assert list(bars.index) == list(range(len(bars)))


def test_deterministic(make_source: Callable[[], Source]) -> None:
    source = make_source()
    first = source.fetch(symbol=SYMBOL, interval=INTERVAL)
    pd.testing.assert_frame_equal(source.fetch(symbol=SYMBOL, interval=INTERVAL), first)
    pd.testing.assert_frame_equal(make_source().fetch(symbol=SYMBOL, interval=INTERVAL), first)


def test_since_is_strict_and_a_suffix(make_source: Callable[[], Source]) -> None:
    source = make_source()
    full = source.fetch(symbol=SYMBOL, interval=INTERVAL)
    cutoff = full["timestamp"].iloc[1]
    later = source.fetch(symbol=SYMBOL, interval=INTERVAL, since=cutoff)
    pd.testing.assert_frame_equal(later, full.iloc[2:].reset_index(drop=True))
    after_all = source.fetch(symbol=SYMBOL, interval=INTERVAL, since=full["timestamp"].iloc[-1])
    assert after_all.empty
    assert list(after_all.columns) == list(BAR_COLUMNS)


def test_leaves_inputs_unchanged(make_source: Callable[[], Source]) -> None:
    source = make_source()
    state = copy.deepcopy(vars(source))
    since = pd.Timestamp("2000-01-01T00:00:00Z")
    since_copy = copy.deepcopy(since)
    files = {
        value: value.read_bytes() for value in vars(source).values() if isinstance(value, Path)
    }
    source.fetch(symbol=SYMBOL, interval=INTERVAL, since=since)
    assert vars(source) == state
    assert since == since_copy
    assert since.tz is not None
    assert all(path.read_bytes() == content for path, content in files.items())


def test_hands_the_raw_payload_over_once(make_source: Callable[[], Source]) -> None:
    calls: list[tuple[bytes, str]] = []
    make_source().fetch(
        symbol=SYMBOL, interval=INTERVAL, on_raw=lambda data, ext: calls.append((data, ext))
    )
    assert len(calls) == 1
    payload, ext = calls[0]
    assert isinstance(payload, bytes)
    assert payload
    assert ext in {"csv", "parquet", "json"}


def test_pickles(make_source: Callable[[], Source]) -> None:
    source = make_source()
    clone = pickle.loads(pickle.dumps(source))
    assert type(clone) is type(source)
    assert vars(clone) == vars(source)
    pd.testing.assert_frame_equal(
        clone.fetch(symbol=SYMBOL, interval=INTERVAL),
        source.fetch(symbol=SYMBOL, interval=INTERVAL),
    )
