"""Champions as the train stage registers them: sequential ones, seasonal HAR, consistency.

A world of its own (separate store and SQLite registry): GBP/USD has a GARCH champion on
gap-free bars, USD/JPY an EWMA champion with a two-bar target (``horizon=2``) on curated bars
with an isolated one-bar gap near the end, AUD/USD a seasonal HAR (reads the timestamp).
All are registered the way the training stage registers them (``feature_names`` =
timestamp, the feature columns and ``rv``). The expected
forecasts are computed as training computes them: ``clean_bars`` on the whole curated
series, ``build_dataset``, the model run over every complete row, the last forecast taken.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from tests.api.conftest import store_bars, synthetic_bars
from volcast.config import Params, TargetParams
from volcast.features import FeatureBuilder, build_dataset, resolve_target
from volcast.models import EwmaModel, GarchModel, HarModel
from volcast.models.base import VolatilityModel, feature_columns
from volcast.monitoring.reference import reference_statistics
from volcast.quality import clean_bars
from volcast.registry import CHAMPION, log_training_run
from volcast.schemas import TIMESTAMP, bars_per_year
from volcast.serving.app import create_app, default_service
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage, content_hash

INTERVAL = "1h"
N_BARS = 3000
HISTORY = 1500
"""Complete rows the service runs a model through: fewer than the stored bars, so the test
shows the truncated history converges to the full-series forecast."""


@dataclass
class Case:
    symbol: str
    curated: pd.DataFrame
    dataset: pd.DataFrame
    model: VolatilityModel
    version: int


def _register(
    curated: pd.DataFrame,
    *,
    symbol: str,
    model: VolatilityModel,
    target: TargetParams,
    storage: Storage,
    tracking_uri: str,
) -> Case:
    """Store curated bars, fit ``model`` as the train stage does and make it champion."""
    params = Params()
    store_bars(storage, curated, symbol=symbol, interval=INTERVAL)
    cleaned = clean_bars(curated, interval=INTERVAL)
    target = resolve_target(cleaned, target)  # the floor the features stage would record
    dataset = build_dataset(cleaned, features=params.features, target=target, interval=INTERVAL)
    builder = FeatureBuilder(features=params.features, target=target, interval=INTERVAL)
    names = builder.feature_names
    inputs = [TIMESTAMP, *names, "rv"]
    train = dataset.dropna(subset=[*names, "rv", "target"]).reset_index(drop=True)
    model.fit(train.drop(columns=["target"]), train["target"])
    info = log_training_run(
        symbol=symbol,
        interval=INTERVAL,
        source="sample",
        params={"model": model.name},
        metrics={"qlike": 0.1},
        model=model,
        feature_config={
            "feature_names": inputs,
            "model_features": names,
            "features": params.features.model_dump(mode="json"),
            "target": target.model_dump(mode="json"),
            "model": model.name,
            "warmup_bars": builder.warmup_bars,
        },
        reference_stats=reference_statistics(train[names]),
        input_example=train[inputs].tail(5),
        artifacts={},
        tags={},
        dataset_hash=content_hash(curated),
        tracking_uri=tracking_uri,
    )
    MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).set_registered_model_alias(
        info.model_name, CHAMPION, str(info.version)
    )
    return Case(symbol, curated, dataset, model, info.version)


@dataclass
class SeqWorld:
    root: Path
    storage: Storage
    tracking_uri: str
    garch: Case
    ewma: Case
    har: Case


@pytest.fixture(scope="module")
def seq_world(tmp_path_factory: pytest.TempPathFactory) -> SeqWorld:
    root = tmp_path_factory.mktemp("api-sequential")
    storage = Storage(root / "data")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    params = Params()
    garch = _register(
        synthetic_bars(N_BARS, seed=3),
        symbol="GBP/USD",
        model=GarchModel(horizon=1),
        target=params.target,
        storage=storage,
        tracking_uri=tracking_uri,
    )
    gapped = synthetic_bars(N_BARS, seed=5)
    gapped = gapped.drop(index=N_BARS - 4).reset_index(drop=True)  # isolated one-bar gap
    two_bars = params.target.model_copy(update={"horizon": 2})
    ewma = _register(
        gapped,
        symbol="USD/JPY",
        model=EwmaModel(lam=0.94, horizon=2),
        target=two_bars,
        storage=storage,
        tracking_uri=tracking_uri,
    )
    har = _register(
        synthetic_bars(N_BARS, seed=9),
        symbol="AUD/USD",
        model=HarModel(interval=INTERVAL, seasonal=True),
        target=params.target,
        storage=storage,
        tracking_uri=tracking_uri,
    )
    return SeqWorld(root, storage, tracking_uri, garch, ewma, har)


@pytest.fixture(scope="module")
def seq_client(seq_world: SeqWorld) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", seq_world.tracking_uri)
        from volcast.config import get_settings

        get_settings.cache_clear()
        app = create_app(
            service_factory=lambda: default_service(
                settings=ServingSettings(history_bars=HISTORY), storage=seq_world.storage
            ),
            poll=False,
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
        get_settings.cache_clear()


def _training_forecast(case: Case) -> tuple[pd.Timestamp, float]:
    """The model's forecast at the last bar over the full training-side dataset."""
    names = feature_columns(case.dataset)
    rows = case.dataset.dropna(subset=[*names, "rv"]).reset_index(drop=True)
    forecast = case.model.predict(rows.drop(columns=["target"]))
    return pd.Timestamp(rows[TIMESTAMP].iloc[-1]), float(forecast[-1])


def test_sequential_champion_matches_its_forecast_over_the_full_history(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    case = seq_world.garch
    response = seq_client.post("/predict", json={"symbol": case.symbol})
    assert response.status_code == 200, response.text
    body = response.json()
    as_of, expected = _training_forecast(case)
    assert body["model"]["version"] == case.version
    assert pd.Timestamp(body["as_of"]) == as_of
    assert math.isclose(body["variance"], expected, rel_tol=1e-9)


def test_an_isolated_gap_is_filled_as_training_fills_it(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    case = seq_world.ewma
    response = seq_client.post("/predict", json={"symbol": case.symbol})
    assert response.status_code == 200, response.text
    body = response.json()
    as_of, expected = _training_forecast(case)
    assert len(case.dataset) == len(case.curated) + 1  # the gap was filled on the training side
    assert pd.Timestamp(body["as_of"]) == as_of
    assert math.isclose(body["variance"], expected, rel_tol=1e-9)


def test_annualized_volatility_uses_the_per_bar_variance_of_the_horizon(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    body = seq_client.post("/predict", json={"symbol": seq_world.ewma.symbol}).json()
    assert body["horizon"] == 2
    variance = body["variance"]
    assert math.isclose(body["volatility"], math.sqrt(variance), rel_tol=1e-12)
    assert math.isclose(
        body["annualized_volatility"],
        math.sqrt(variance / 2 * bars_per_year(INTERVAL)),
        rel_tol=1e-12,
    )
    baseline = body["baseline"]
    assert math.isclose(
        baseline["annualized_volatility"],
        math.sqrt(baseline["variance"] / 2 * bars_per_year(INTERVAL)),
        rel_tol=1e-12,
    )


def test_explicit_features_of_a_sequential_model_are_refused_with_the_reason(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    info = seq_client.get("/model/info").json()["models"]
    [garch] = [m for m in info if m["symbol"] == seq_world.garch.symbol]
    features = dict.fromkeys(garch["feature_names"], 0.0)
    response = seq_client.post(
        "/predict", json={"symbol": seq_world.garch.symbol, "features": features}
    )
    assert response.status_code == 409, response.text  # depends on the model in service
    assert "sequential" in response.json()["detail"]


def _latest_inputs(case: Case) -> tuple[pd.Timestamp, dict[str, float]]:
    names = [*feature_columns(case.dataset), "rv"]
    last = case.dataset.iloc[-1]
    return pd.Timestamp(last[TIMESTAMP]), {name: float(last[name]) for name in names}


def test_explicit_features_with_the_timestamp_score_a_seasonal_model(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    case = seq_world.har
    as_of, features = _latest_inputs(case)
    response = seq_client.post(
        "/predict", json={"symbol": case.symbol, "features": features, "as_of": as_of.isoformat()}
    )
    assert response.status_code == 200, response.text
    by_bars = seq_client.post("/predict", json={"symbol": case.symbol}).json()
    _, expected = _training_forecast(case)
    assert math.isclose(response.json()["variance"], expected, rel_tol=1e-9)
    assert math.isclose(by_bars["variance"], expected, rel_tol=1e-9)


def test_explicit_features_name_the_missing_inputs_timestamp_included(
    seq_client: TestClient, seq_world: SeqWorld
) -> None:
    case = seq_world.har
    as_of, features = _latest_inputs(case)
    no_stamp = seq_client.post("/predict", json={"symbol": case.symbol, "features": features})
    assert no_stamp.status_code == 409, no_stamp.text
    assert "as_of" in no_stamp.json()["detail"]
    del features["rv"]
    no_rv = seq_client.post(
        "/predict", json={"symbol": case.symbol, "features": features, "as_of": as_of.isoformat()}
    )
    assert no_rv.status_code == 409, no_rv.text
    assert "rv" in no_rv.json()["detail"]
