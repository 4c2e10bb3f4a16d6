"""The FastAPI app factory of the forecast service.

``create_app()`` reads the settings and builds a :class:`ForecastService` on the data store
and the MLflow registry in the ``lifespan``: bars and ``@champion`` models are loaded before
the first request, then a background task refreshes the bars every ``data_poll_seconds`` and
polls the registry alias every ``model_poll_seconds``. Volcast errors become HTTP statuses
here and only here (404 unknown, 400 bad input, 503 no model); validation errors stay 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from volcast.config import get_settings, load_params
from volcast.errors import (
    VolcastError,
)
from volcast.registry.served import ModelLoader, RegistryLoader
from volcast.serving import metrics
from volcast.serving.routers import admin, alerts, feedback, health, models, predict, status
from volcast.serving.service import ForecastService
from volcast.serving.settings import ServingSettings
from volcast.storage import Storage, storage_from_settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
"""The status page's script, style sheet and the vendored chart library (package data)."""

ServiceFactory = Callable[[], ForecastService]


def default_service(
    *,
    settings: ServingSettings | None = None,
    storage: Storage | None = None,
    loader: ModelLoader | None = None,
) -> ForecastService:
    """A service on ``VOLCAST_DATA_DIR`` and the ``MLFLOW_TRACKING_URI`` registry."""
    serving = settings or ServingSettings()
    params = load_params(os.environ.get("VOLCAST_PARAMS"))
    return ForecastService(
        storage=storage or storage_from_settings(),
        loader=loader
        or RegistryLoader(
            alias=serving.alias,
            params=params,
            tracking_uri=get_settings().tracking_uri(),
            # polled in the background: fail fast instead of MLflow's long retries
            timeout=serving.registry_timeout_seconds,
        ),
        params=params,
        settings=serving,
    )


async def _poll(service: ForecastService) -> None:
    """Refresh bars every data poll and models every model poll, forever."""
    settings = service.settings
    next_models = time.monotonic() + settings.model_poll_seconds
    while True:
        await asyncio.sleep(settings.data_poll_seconds)
        try:
            await asyncio.to_thread(service.refresh_data)
            if time.monotonic() >= next_models:
                next_models = time.monotonic() + settings.model_poll_seconds
                await asyncio.to_thread(service.refresh_models)
            metrics.update_uptime()
            metrics.sweep_dead_workers()
        except VolcastError as exc:
            log.warning("background refresh failed: %s", exc)


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


WORKER_HEADER = "X-Volcast-Worker"
"""Response header naming the worker process (its PID) that answered."""


class WorkerHeaderMiddleware:
    """Adds :data:`WORKER_HEADER` to every HTTP response (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((WORKER_HEADER.lower().encode(), self.pid))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


class MetricsMiddleware:
    """Counts requests and observes latency by method, route template and status (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_label(scope)
            method = str(scope.get("method", ""))
            metrics.API_LATENCY.labels(method, route).observe(time.perf_counter() - start)
            metrics.API_REQUESTS.labels(method, route, str(status)).inc()


def _error(status: int, detail: str, error: str, context: dict[str, Any] | None = None) -> Any:
    body = {
        "detail": detail,
        "error": error,
        "context": {str(k): str(v) for k, v in (context or {}).items()},
    }
    return JSONResponse(status_code=status, content=body)


async def _volcast_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VolcastError)
    status = exc.http_status
    response: JSONResponse = _error(status, str(exc), type(exc).__name__, exc.context)
    return response


def _strict_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, minus echoed inputs that JSON cannot carry (NaN, infinity)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        item = {k: v for k, v in error.items() if k in ("loc", "msg", "type")}
        if "input" in error and _strict_json(error["input"]):
            item["input"] = error["input"]
        errors.append(item)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response: JSONResponse = _error(exc.status_code, str(exc.detail), "HTTPException")
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(*, service_factory: ServiceFactory | None = None, poll: bool = True) -> FastAPI:
    """The forecast API; ``service_factory`` (default :func:`default_service`) runs in lifespan.

    ``poll=False`` skips the background refresh task (tests drive refreshes themselves).
    """
    factory = service_factory or default_service

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics.sweep_dead_workers()
        service = factory()
        app.state.service = service
        try:
            await asyncio.to_thread(service.refresh_data)
        except VolcastError as exc:
            log.error("cannot read stored bars: %s", exc)
        await asyncio.to_thread(service.refresh_models)
        metrics.update_uptime()
        task = asyncio.create_task(_poll(service)) if poll else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            metrics.mark_self_dead()

    app = FastAPI(
        title="volcast forecast API",
        version="1",
        summary="Next-bar volatility forecasts from the registry's champion models",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(WorkerHeaderMiddleware)
    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
        VolcastError: _volcast_error,
        StarletteHTTPException: _http_error,
        RequestValidationError: _validation_error,
    }
    for cls, handler in handlers.items():
        app.add_exception_handler(cls, handler)
    for router in (
        health.router,
        predict.router,
        models.router,
        feedback.router,
        admin.router,
        alerts.router,
        status.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
