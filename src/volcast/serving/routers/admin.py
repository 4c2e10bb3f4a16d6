"""Admin operations behind the bearer token ``VOLCAST_ADMIN_TOKEN``."""

from __future__ import annotations

from fastapi import APIRouter

from volcast.serving.deps import ADMIN_ERRORS, AdminDep, ServiceDep
from volcast.serving.schemas import ReloadResponse

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    summary="Reload every model from the registry and refresh the stored bars",
    responses=ADMIN_ERRORS,
)
def reload(_: AdminDep, service: ServiceDep) -> ReloadResponse:
    """Reloads the served alias of every instrument even if its version did not change."""
    reloaded, refreshed = service.reload()
    return ReloadResponse(
        reloaded=[f"{slug} {interval}" for slug, interval in reloaded],
        data_refreshed=[f"{slug} {interval}" for slug, interval in refreshed],
        registry_reachable=service.registry_ok,
    )
