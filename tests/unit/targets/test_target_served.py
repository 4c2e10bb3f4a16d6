"""A target's @champion followed (load once, reload when the alias moves, keep the last good
model when the registry is away) and its next-bar forecast from bars."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from tests.unit.models.synthetic import simulate_bars
from volcast.config import FeatureParams, TargetParams, TrainParams
from volcast.errors import ModelUnavailableError, NotFoundError, RegistryError
from volcast.evaluation.target_backtest import fit_final_target
from volcast.features import FeatureBuilder, build_dataset
from volcast.pipeline.monitor_store import StreamState, read_log
from volcast.pipeline.target_watch import TargetWatch, log_dtypes
from volcast.registry.target_served import TargetChampion
from volcast.registry.targets import LoadedTargetModel
from volcast.series import Series
from volcast.storage import Storage

TARGET = TargetParams(kind="direction", floor_source="fixed", floor=1e-10)
FEATURES = FeatureParams(news=False)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return simulate_bars(900, seed=11)


def _loaded(bars: pd.DataFrame, version: int) -> LoadedTargetModel:
    """A real logistic direction model, as the registry would hand it back."""
    names = FeatureBuilder(features=FEATURES, target=TARGET, interval="1h").feature_names
    frame = build_dataset(bars, features=FEATURES, target=TARGET, interval="1h")
    model = fit_final_target(
        frame, "logistic", kind="direction", train=TrainParams(min_train_bars=400),
        feature_names=names,
    )  # fmt: skip
    return LoadedTargetModel(
        name="volcast-eurusd-1h-direction",
        kind="direction",
        version=version,
        alias="champion",
        run_id=f"run{version}",
        feature_config={
            "feature_names": list(names),
            "features": FEATURES.model_dump(mode="json"),
            "target": TARGET.model_dump(mode="json"),
        },
        model=model,
    )


class Registry:
    """The champion's versions; ``down`` makes every call fail as an unreachable server."""

    def __init__(self, models: dict[int, LoadedTargetModel]) -> None:
        self.models = models
        self.champion: int | None = None
        self.down = False
        self.loads = 0

    def _check(self) -> None:
        if self.down:
            raise RegistryError("registry unreachable")

    def load(self, symbol: str, interval: str, kind: str) -> LoadedTargetModel:
        self._check()
        if self.champion is None:
            raise NotFoundError(f"no @champion of {kind}")
        self.loads += 1
        return self.models[self.champion]

    def resolve(self, symbol: str, interval: str, kind: str) -> int | None:
        self._check()
        return self.champion


def test_followed_loaded_once_reloaded_when_moved_kept_when_down(bars: pd.DataFrame) -> None:
    registry = Registry({1: _loaded(bars.iloc[:700], 1), 2: _loaded(bars, 2)})
    champion = TargetChampion(
        "EUR/USD", "1h", "direction", load=registry.load, resolve=registry.resolve, ttl=0.0
    )
    with pytest.raises(NotFoundError):
        champion.current()  # no champion yet
    registry.champion = 1
    assert champion.current().model.version == 1
    assert champion.current().model.version == 1
    assert registry.loads == 1  # re-resolved, not reloaded
    registry.champion = 2
    assert champion.current().model.version == 2
    assert registry.loads == 2
    registry.down = True
    assert champion.current().model.version == 2  # the last good model stays in service
    down = TargetChampion(
        "EUR/USD", "1h", "direction", load=registry.load, resolve=registry.resolve
    )
    with pytest.raises(RegistryError):
        down.current()  # nothing loaded yet: the error propagates
    registry.down = False
    registry.champion = None  # the alias removed: the old champion is not served any more
    with pytest.raises(NotFoundError):
        champion.current()
    assert champion.version is None
    with pytest.raises(NotFoundError):
        champion.current()


def test_the_forecast_is_the_models_probability_on_the_last_bar(bars: pd.DataFrame) -> None:
    loaded = _loaded(bars, 1)
    registry = Registry({1: loaded})
    registry.champion = 1
    served = TargetChampion(
        "EUR/USD", "1h", "direction", load=registry.load, resolve=registry.resolve
    ).current()
    value = served.forecast_last(bars)
    builder = FeatureBuilder(features=FEATURES, target=TARGET, interval="1h")
    row = builder.transform_last(bars)
    expected = float(loaded.predict(row.to_frame().T.astype("float64"))[0])
    assert value == pytest.approx(expected, rel=1e-12)
    assert 0.0 <= value <= 1.0
    with pytest.raises(ModelUnavailableError, match="needs"):
        served.forecast_last(bars.head(3))


def test_a_bar_processed_again_after_a_crash_is_counted_once(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    """The loop writes the target's log before its state: a worker killed between the two
    processes that bar again from the older state, and must count its outcome once."""
    registry = Registry({1: _loaded(bars.iloc[:700], 1)})
    registry.champion = 1
    storage = Storage(tmp_path)
    watch = TargetWatch(
        storage=storage,
        series=Series("EUR/USD", "1h"),
        kind="direction",
        champion=TargetChampion(
            "EUR/USD", "1h", "direction", load=registry.load, resolve=registry.resolve, ttl=0.0
        ),
        window=50,
    )
    state = StreamState()
    for end in range(800, 820):
        before = copy.deepcopy(state)
        assert watch.process(state, bars.iloc[: end + 1], bars.iloc[: end + 1])
        if end == 810:  # killed after the log, before the state: restart from `before`
            state = before
            assert watch.process(state, bars.iloc[: end + 1], bars.iloc[: end + 1])
    log = read_log(storage, watch.path, log_dtypes("direction"))
    assert len(log) == 20
    assert log["timestamp"].is_unique
    assert state.targets["direction"].bars == 19 == int(log["outcome"].notna().sum())
