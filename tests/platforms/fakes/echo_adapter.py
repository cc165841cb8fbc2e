"""Echo: a test-only adapter with the documented surface (NAME, EVENTS, Config, idempotency_key, deliver)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.platforms.context import DeliveryContext

NAME = "echo"
EVENTS = ("session.billed", "invoice.finalized")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, repr=False)
    base_url: str = Field(description="vendor base URL")
    revenue_account: str = Field(default="4000", description="field mapping: revenue account code")


def idempotency_key(event: dict[str, Any], config: Config | None = None) -> str:
    """Per invoice, so two events carrying the same invoice post once."""
    return f"echo:{event['tenant_id']}:{event['data']['invoice']['id']}"


def deliver(event: dict[str, Any], config: Config, ctx: DeliveryContext) -> dict[str, Any]:
    invoice = event["data"]["invoice"]
    resp = ctx.http.send("POST", config.base_url + "/records", headers={
        "Authorization": f"Bearer {config.api_key}", "Idempotency-Key": idempotency_key(event, config)},
        json={"invoice": invoice["id"], "amount": invoice["amount_due"], "account": config.revenue_account})
    return {"status": "sent", "ref": resp.json().get("id")}
