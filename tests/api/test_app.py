"""The app factory: no change to the process environment, the answering worker named."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SYMBOL, World
from tests.helpers import closed_port
from volcast.registry import resolve_alias
from volcast.serving.app import WORKER_HEADER, default_service

MLFLOW_LIMITS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")


def test_default_service_leaves_the_environment_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in MLFLOW_LIMITS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    from volcast.config import get_settings

    get_settings.cache_clear()
    before = dict(os.environ)
    service = default_service(storage=world.storage)
    service.refresh_data()
    assert service.refresh_models() == [("eurusd", "1h")]  # the registry was called
    assert dict(os.environ) == before
    assert not any(name in os.environ for name in MLFLOW_LIMITS)


def test_registry_limits_apply_inside_the_call_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    with closed_port() as port:
        from volcast.errors import RegistryError

        # no retries: a refused connection fails at once instead of backing off for minutes
        with pytest.raises(RegistryError):
            resolve_alias(
                SYMBOL,
                "1h",
                "champion",
                tracking_uri=f"http://127.0.0.1:{port}",
                max_retries=0,
                timeout=2,
            )
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def test_every_response_names_the_worker_that_answered(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    for response in (
        client.get("/health"),
        client.post("/predict", json={"symbol": SYMBOL}),
        client.get("/nope"),
    ):
        assert response.headers[WORKER_HEADER] == str(os.getpid())
