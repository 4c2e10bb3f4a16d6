"""Settings of the feature store (``VOLCAST_FEAST_*``); Feast is off unless a repo is named."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeatureStoreSettings(BaseSettings):
    """Where Feast is and how volcast uses it; each is ``VOLCAST_FEAST_<NAME>``.

    ``VOLCAST_FEAST_ONLINE`` (the online store: SQLite by default, ``redis://HOST:PORT``) and
    ``VOLCAST_FEAST_HOME`` are read by ``scripts/feast.sh`` itself; the subprocess inherits
    them.
    """

    model_config = SettingsConfigDict(
        env_prefix="VOLCAST_FEAST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    repo: Path | None = Field(
        default=None,
        description="The Feast repository (feature_repo/); set, it turns materialisation on",
    )
    script: Path | None = Field(
        default=None, description="scripts/feast.sh (default: beside the repository)"
    )
    home: Path | None = Field(
        default=None,
        description="Registry, online SQLite and offline tables (<data>/feature_store)",
    )
    url: str = Field(
        default="http://127.0.0.1:6566", description="The Feast feature server (feast serve)"
    )
    ttl_bars: float = Field(
        default=3.0, gt=0.0, description="Feature view TTL in bars; older online rows are refused"
    )
    max_lag_bars: int = Field(
        default=0,
        ge=0,
        description="Bars an online row may lag the latest closed bar (0: it must be that bar)",
    )
    timeout_seconds: float = Field(
        default=1.0, gt=0.0, description="HTTP timeout of an online read (no retries)"
    )
    materialize_timeout_seconds: float = Field(
        default=900.0, gt=0.0, description="Longest a materialisation subprocess may run"
    )

    @property
    def enabled(self) -> bool:
        """Whether volcast materialises into Feast (``VOLCAST_FEAST_REPO`` is set)."""
        return self.repo is not None

    def feast_script(self) -> Path:
        """``scripts/feast.sh``: the setting, else ``<repo>/../scripts/feast.sh``."""
        if self.script is not None:
            return self.script
        base = self.repo.resolve().parent if self.repo is not None else Path.cwd()
        return base / "scripts" / "feast.sh"

    def feast_home(self, data_dir: str | Path) -> Path:
        """The feature store's directory: the setting, else ``<data dir>/feature_store``."""
        return self.home if self.home is not None else Path(data_dir) / "feature_store"
