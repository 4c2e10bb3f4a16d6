"""The forecast service: FastAPI app, model holder, in-memory bars, Prometheus metrics.

:func:`volcast.serving.app.create_app` builds the app; ``volcast serve``
(:mod:`volcast.cli.serve`) runs it under uvicorn with one or more workers. Nothing is
imported here: ``prometheus_client`` must not load before ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""
