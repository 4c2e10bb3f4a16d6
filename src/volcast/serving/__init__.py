"""The forecast service: FastAPI app, model holder, in-memory bars, Prometheus metrics.

``create_app()`` builds the app; ``volcast serve`` (:mod:`volcast.serving.cli_serve`) runs it
under uvicorn with one or more workers.
"""

from volcast.serving.app import create_app, default_service

__all__ = ["create_app", "default_service"]
