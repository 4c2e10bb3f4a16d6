"""Dependencies shared by the routers (``Annotated`` aliases, FastAPI style)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from volcast.config import get_settings
from volcast.serving.service import ForecastService

_bearer = HTTPBearer(auto_error=False, description="VOLCAST_ADMIN_TOKEN")


def get_service(request: Request) -> ForecastService:
    """The app's forecast service (created in the lifespan)."""
    service: ForecastService = request.app.state.service
    return service


def require_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check the bearer token against ``VOLCAST_ADMIN_TOKEN`` (403 when none is configured)."""
    token = get_settings().admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: VOLCAST_ADMIN_TOKEN is unset"
        )
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid admin bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


ServiceDep = Annotated[ForecastService, Depends(get_service)]
AdminDep = Annotated[None, Depends(require_admin)]
