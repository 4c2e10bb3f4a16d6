"""Dependencies shared by the routers (``Annotated`` aliases, FastAPI style)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from volcast.config import get_settings
from volcast.serving.schemas import ErrorResponse
from volcast.serving.service import ForecastService

_bearer = HTTPBearer(auto_error=False, description="VOLCAST_ADMIN_TOKEN")


def get_service(request: Request) -> ForecastService:
    """The app's forecast service (created in the lifespan)."""
    service: ForecastService = request.app.state.service
    return service


ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorResponse,
        "description": "No bearer token given (answered with `WWW-Authenticate: Bearer`)",
        "headers": {
            "WWW-Authenticate": {
                "description": "The authentication scheme: Bearer",
                "schema": {"type": "string", "const": "Bearer"},
            }
        },
    },
    403: {
        "model": ErrorResponse,
        "description": "Wrong bearer token, or admin disabled (no token configured)",
    },
}
"""The responses of every admin endpoint, for the OpenAPI schema."""


def require_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check the bearer token against ``VOLCAST_ADMIN_TOKEN``.

    401 (with ``WWW-Authenticate: Bearer``) when no token is given; 403 when it is wrong or
    when admin is disabled because no token is configured.
    """
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an admin bearer token is required (Authorization: Bearer <VOLCAST_ADMIN_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = get_settings().admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: VOLCAST_ADMIN_TOKEN is unset"
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the admin bearer token is wrong")


ServiceDep = Annotated[ForecastService, Depends(get_service)]
AdminDep = Annotated[None, Depends(require_admin)]
