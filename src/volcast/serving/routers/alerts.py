"""Alertmanager's webhook (bearer token ``VOLCAST_ALERT_WEBHOOK_TOKEN``)."""

from __future__ import annotations

from fastapi import APIRouter

from volcast.serving.alerts import AlertmanagerWebhook, WebhookResponse, take_alerts
from volcast.serving.deps import ADMIN_ERRORS, AlertTokenDep, ServiceDep
from volcast.serving.routers.common import ERRORS

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.post(
    "/webhook",
    response_model=WebhookResponse,
    summary="Alertmanager webhook: firing alerts labelled action=retrain request a retrain",
    responses={400: ERRORS[400], **ADMIN_ERRORS},
)
def webhook(payload: AlertmanagerWebhook, _: AlertTokenDep, service: ServiceDep) -> WebhookResponse:
    """Stores a retrain request for the series of every firing alert labelled
    ``action="retrain"``; the series' stream worker feeds it to its retrain trigger at its
    next bar (the loop's cooldown and de-duplication apply). A re-sent alert is stored once.
    """
    return take_alerts(payload, catalog=service.catalog, storage=service.catalog.storage)
