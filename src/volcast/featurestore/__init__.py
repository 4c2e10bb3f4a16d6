"""The feature store (SPEC 17): volcast's side of Feast, which runs in its own environment.

- :mod:`.settings`: ``VOLCAST_FEAST_*`` (off unless ``VOLCAST_FEAST_REPO`` is set);
- :mod:`.tables`: names (entity key, feature view) and the offline tables Feast reads;
- :mod:`.publish`: writing those tables and running ``scripts/feast.sh materialize-incremental``
  (a subprocess: Feast's pins clash with ours);
- :mod:`.client`: online reads from the Feast feature server (``feast serve``) over HTTP;
- :mod:`.freshness`: the guard that refuses an online row older than the interval allows
  (Feast does not enforce TTL on online reads, feast#1802).

See docs/feature-store.md.
"""

from volcast.featurestore.client import OnlineClient, OnlineRow
from volcast.featurestore.freshness import refusal
from volcast.featurestore.publish import Publisher
from volcast.featurestore.settings import FeatureStoreSettings
from volcast.featurestore.tables import entity_key, offline_rows, view_name

__all__ = [
    "FeatureStoreSettings",
    "OnlineClient",
    "OnlineRow",
    "Publisher",
    "entity_key",
    "offline_rows",
    "refusal",
    "view_name",
]
