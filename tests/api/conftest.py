"""Real models in a real MLflow registry (SQLite store) and stored bars for the API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from volcast.config import Params
from volcast.features import FeatureBuilder, build_dataset, resolve_target
from volcast.models import HarModel, LightGbmModel
from volcast.monitoring.reference import reference_statistics
from volcast.registry import CHAMPION, log_training_run
from volcast.schemas import TIMESTAMP
from volcast.series import Series
from volcast.serving.app import create_app, default_service
from volcast.serving.service import ForecastService
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage, content_hash

SYMBOL = "EUR/USD"
INTERVAL = "1h"
N_BARS = 1200


def synthetic_bars(n: int, *, seed: int = 0, start: str = "2024-01-01T00:00:00Z") -> pd.DataFrame:
    """Hourly OHLC bars of a log random walk with clustered volatility (SYNTHETIC)."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=n, freq="1h", tz="UTC")
    log_vol = np.zeros(n)
    shocks = rng.normal(scale=0.15, size=n)
    for i in range(1, n):
        log_vol[i] = 0.97 * log_vol[i - 1] + shocks[i]
    sigma = 1e-3 * np.exp(log_vol) / np.sqrt(6)
    paths = np.cumsum(rng.standard_t(df=5, size=(n, 6)) * sigma[:, None], axis=1)
    level = np.log(1.1) + np.concatenate([[0.0], np.cumsum(paths[:-1, -1])])
    open_ = np.exp(level)
    close = np.exp(level + paths[:, -1])
    high = np.maximum(np.maximum(open_, close), np.exp(level + paths.max(axis=1)))
    low = np.minimum(np.minimum(open_, close), np.exp(level + paths.min(axis=1)))
    return pd.DataFrame(
        {
            TIMESTAMP: stamps,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(100, 1000, n),
        }
    )


def store_bars(
    storage: Storage,
    bars: pd.DataFrame,
    *,
    symbol: str = SYMBOL,
    interval: str = INTERVAL,
    live: bool = False,
) -> str:
    """Write curated bars and meta as the validate stage does; returns the content hash."""
    layout = Series(symbol, interval).layout
    digest = content_hash(bars)
    storage.write_parquet(layout.curated_bars, bars)
    storage.write_json(
        layout.curated_meta,
        {
            "symbol": symbol,
            "interval": interval,
            "source": "sample",
            "live": live,
            "synthetic": True,
            "rows": len(bars),
            "first_timestamp": bars[TIMESTAMP].iloc[0].isoformat(),
            "last_timestamp": bars[TIMESTAMP].iloc[-1].isoformat(),
            "content_hash": digest,
        },
    )
    return digest


def train_and_register(
    bars: pd.DataFrame,
    *,
    kind: str,
    tracking_uri: str,
    symbol: str = SYMBOL,
    interval: str = INTERVAL,
    champion: bool = True,
) -> int:
    """Fit a real model on the bars, log it to the registry; optionally make it champion."""
    params = Params()
    target = resolve_target(bars, params.target)  # as the features stage does; logged below
    data = build_dataset(bars, features=params.features, target=target, interval=interval)
    names = FeatureBuilder(
        features=params.features, target=params.target, interval=interval
    ).feature_names
    train = data.dropna(subset=[*names, "target"]).reset_index(drop=True)
    X = train.drop(columns=["target"])
    if kind == "har":
        # seasonal=False: the registry cannot log a timestamp input yet (MLflow schema inference
        # rejects tz-aware datetimes)
        model = HarModel(interval=interval, seasonal=False).fit(X, train["target"])
        inputs = list(model.columns_)
    else:
        model = LightGbmModel(params={"n_estimators": 30, "num_leaves": 7}, n_jobs=1).fit(
            X, train["target"]
        )
        inputs = [str(n) for n in model.feature_names_in_]
    info = log_training_run(
        symbol=symbol,
        interval=interval,
        source="sample",
        params={"model": kind},
        metrics={"qlike": 0.1},
        model=model,
        feature_config={
            "feature_names": inputs,
            "features": params.features.model_dump(mode="json"),
            "target": target.model_dump(mode="json"),
        },
        reference_stats=reference_statistics(train[names]),
        input_example=X,
        artifacts={},
        tags={},
        dataset_hash=content_hash(bars),
        tracking_uri=tracking_uri,
    )
    if champion:
        MlflowClient(
            tracking_uri=tracking_uri, registry_uri=tracking_uri
        ).set_registered_model_alias(info.model_name, CHAMPION, str(info.version))
    return info.version


def train_and_register_target(
    bars: pd.DataFrame,
    *,
    kind: str,
    tracking_uri: str,
    symbol: str = SYMBOL,
    interval: str = INTERVAL,
    model: str | None = None,
) -> int:
    """Fit a return/direction model as `volcast train --target` does, make it @champion."""
    from volcast.config import TargetParams
    from volcast.evaluation.target_backtest import fit_final_target
    from volcast.registry.targets import log_target_run

    params = Params()
    features = params.features.model_copy(update={"news": False})
    target = resolve_target(bars, TargetParams(kind=kind))  # type: ignore[arg-type]
    frame = build_dataset(bars, features=features, target=target, interval=interval)
    names = FeatureBuilder(features=features, target=target, interval=interval).feature_names
    name = model or {"direction": "logistic", "return": "lightgbm_return"}[kind]
    train = params.train.model_copy(update={"min_train_bars": 400})
    fitted = fit_final_target(frame, name, kind=kind, train=train, feature_names=names)
    info = log_target_run(
        symbol=symbol,
        interval=interval,
        kind=kind,
        source="sample",
        params={"model": name},
        metrics={},
        model=fitted,
        feature_config={
            "feature_names": list(names),
            "features": features.model_dump(mode="json"),
            "target": target.model_dump(mode="json"),
            "model": name,
        },
        input_example=frame[list(names)],
        artifacts={},
        tags={"model": name},
        dataset_hash=content_hash(frame),
        tracking_uri=tracking_uri,
    )
    MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).set_registered_model_alias(
        info.model_name, CHAMPION, str(info.version)
    )
    return info.version


@dataclass
class World:
    """A data store with stored bars and a registry holding a champion."""

    root: Path
    storage: Storage
    tracking_uri: str
    bars: pd.DataFrame
    version: int
    target_versions: dict[str, int]

    def service(self, **settings: object) -> ForecastService:
        return default_service(
            settings=ServingSettings(history_bars=N_BARS, **settings),  # type: ignore[arg-type]
            storage=self.storage,
        )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Champions for EUR/USD 1h, trained on synthetic bars, in a SQLite registry: the variance
    model (LightGBM) and the direction (logistic) and return (LightGBM) models."""
    root = tmp_path_factory.mktemp("api-world")
    storage = Storage(root / "data")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    bars = synthetic_bars(N_BARS)
    store_bars(storage, bars)
    version = train_and_register(bars, kind="lightgbm", tracking_uri=tracking_uri)
    targets = {
        kind: train_and_register_target(bars, kind=kind, tracking_uri=tracking_uri)
        for kind in ("direction", "return")
    }
    return World(root, storage, tracking_uri, bars, version, targets)


@pytest.fixture
def make_client(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """Start the app (lifespan included) on the world's store and registry."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    from volcast.config import get_settings

    get_settings.cache_clear()
    clients: list[TestClient] = []

    def make(**settings: object) -> TestClient:
        app = create_app(service_factory=lambda: world.service(**settings), poll=False)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client of the app serving the world's champion."""
    return make_client()
