"""Dependencies shared by the routers (``Annotated`` aliases, FastAPI style)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from volcast.config import get_settings
from volcast.serving.schemas import ErrorResponse
from volcast.serving.service import ForecastService

_bearer = HTTPBearer(auto_error=False, description="VOLCAST_ADMIN_TOKEN")
_alert_bearer = HTTPBearer(auto_error=False, description="VOLCAST_ALERT_WEBHOOK_TOKEN")


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


def _check_bearer(
    credentials: HTTPAuthorizationCredentials | None,
    token: SecretStr | None,
    *,
    name: str,
    env: str,
) -> None:
    """401 (with ``WWW-Authenticate: Bearer``) when no token is given; 403 when it is wrong
    or when the endpoint is disabled because no token is configured."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"a bearer token is required for {name} endpoints (Authorization: Bearer <{env}>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{name} endpoints are disabled: {env} is unset"
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {name} bearer token is wrong")


def require_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check the bearer token against ``VOLCAST_ADMIN_TOKEN``."""
    _check_bearer(credentials, get_settings().admin_token, name="admin", env="VOLCAST_ADMIN_TOKEN")


def require_alert_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_alert_bearer)],
) -> None:
    """Check the bearer token against ``VOLCAST_ALERT_WEBHOOK_TOKEN``."""
    _check_bearer(
        credentials,
        get_settings().alert_webhook_token,
        name="alert webhook",
        env="VOLCAST_ALERT_WEBHOOK_TOKEN",
    )


ServiceDep = Annotated[ForecastService, Depends(get_service)]
AdminDep = Annotated[None, Depends(require_admin)]
AlertTokenDep = Annotated[None, Depends(require_alert_token)]
