"""volcast's Feast objects, built from the spec scripts/feast/render.py wrote.

One entity, ``series`` (``"<slug>/<interval>"``, e.g. ``eurusd/1h``), and one feature view
per series (``volcast_eurusd_1h``) over the Parquet table volcast writes for it,
``<feature store home>/offline/<slug>_<interval>.parquet`` (the feature builder's dataset rows
with the ``series`` key added; one view per series so that materialisation windows follow
each series' own bar time, which replays of historical files need). The features are those of
the dataset's ``meta.json``, so adding a feature to the builder needs no edit here; the TTL is
a few bars of the interval.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Float64

_spec = json.loads((Path(os.environ["VOLCAST_FEAST_HOME"]) / "spec.json").read_text())

series = Entity(
    name="series",
    join_keys=["series"],
    value_type=ValueType.STRING,
    description='One forecast series: "<slug>/<interval>" (EUR/USD 1h -> eurusd/1h)',
)

for _view in _spec["views"]:
    _source = FileSource(
        name=f"{_view['name']}_source",
        path=_view["path"],
        file_format=ParquetFormat(),
        timestamp_field="timestamp",
    )
    globals()[_view["name"]] = FeatureView(
        name=_view["name"],
        entities=[series],
        ttl=timedelta(seconds=_view["ttl_seconds"]),
        schema=[Field(name=name, dtype=Float64) for name in _view["features"]],
        source=_source,
        online=True,
        tags={"series": _view["series"], "interval": _view["interval"]},
    )
