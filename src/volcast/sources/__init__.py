"""Market-data sources: live providers, a CSV/Parquet file source and the offline sample."""

from volcast.sources.base import RawSink, Source, discard_raw

__all__ = ["RawSink", "Source", "discard_raw"]
