"""OCPI 2.2.1 CDR push (we as CPO/sender): each billed session becomes a CDR with *our* totals, POSTed to
the CDR receiver of every registered roaming partner of the tenant.

Retries and dead letters are the outbox worker's; a partner that already took the CDR (``ocpi_pushes``) is
skipped on a retry, so a CDR reaches each partner once. See docs/platforms/ocpi.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from connector.config import OcpiSettings
from connector.models.documents import EventJson
from connector.platforms import ocpi_client
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from connector.platforms.ocpi_client import Party
from connector.storage import ocpi_partners

NAME = "ocpi"
EVENTS = ("session.billed",)
PERIOD_DIMENSIONS = {"ENERGY": "ENERGY", "TIME": "TIME", "PARKING_TIME": "PARKING_TIME"}


class OcpiConfig(BaseModel):
    """Our party and the location fields a CDR needs that a session may not carry (2.2.1 CdrLocation)."""

    model_config = ConfigDict(extra="forbid")

    country_code: str | None = None  # default: EVBILL_OCPI_COUNTRY_CODE
    party_id: str | None = None  # default: EVBILL_OCPI_PARTY_ID
    location_address: str = "unknown"
    location_city: str = "unknown"
    location_country: str = "NLD"
    latitude: str = "0.000000"
    longitude: str = "0.000000"
    connector_standard: str = "IEC_62196_T2"
    connector_format: str = "SOCKET"
    connector_power_type: str = "AC_3_PHASE"
    token_type: str = "RFID"

    def party(self) -> Party:
        defaults = OcpiSettings.from_environ()
        return Party(self.country_code or defaults.country_code, self.party_id or defaults.party_id)


Config = OcpiConfig


def cdr_id(event: EventJson) -> str:
    return str(event["data"]["session"]["id"])[:39]


def idempotency_key(event: EventJson, config: BaseModel | None) -> str:
    return f"ocpi:{event.get('tenant_id', '')}:cdr:{cdr_id(event)}"


def build_cdr(event: EventJson, config: OcpiConfig, party: Party) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR of a billed session: our rating's totals, periods from its priced lines."""
    data = event["data"]
    session, rating = data["session"], data["rating"]
    periods: dict[int, dict[str, Any]] = {}
    for line in rating.get("lines", []):
        dimension = PERIOD_DIMENSIONS.get(str(line.get("dimension")))
        period = periods.setdefault(int(line["period_index"]), {"start_date_time": line["start"], "dimensions": []})
        if dimension and not any(d["type"] == dimension for d in period["dimensions"]):
            period["dimensions"].append({"type": dimension, "volume": float(line["volume"])})
    charging_periods = [p for _, p in sorted(periods.items()) if p["dimensions"]] or [
        {"start_date_time": rating["start"], "dimensions": [{"type": "ENERGY", "volume": float(rating["total_energy"])}]}]

    def price(key: str) -> dict[str, float]:
        amount = rating[key]  # type: ignore[literal-required]
        return {"excl_vat": float(amount["excl_vat"]), "incl_vat": float(amount["incl_vat"])}

    uid = str(session.get("id_tag") or session.get("customer_id") or "unknown")[:36]
    evse = str(session.get("evse_id") or session.get("station_id") or "unknown")[:48]
    return {
        "country_code": party.country_code, "party_id": party.party_id, "id": cdr_id(event),
        "start_date_time": rating["start"], "end_date_time": rating["end"], "session_id": str(session["id"])[:36],
        "cdr_token": {"country_code": party.country_code, "party_id": party.party_id, "uid": uid,
                      "type": config.token_type, "contract_id": uid},
        "auth_method": "WHITELIST",
        "cdr_location": {"id": str(session.get("location_id") or evse)[:36], "address": config.location_address,
                         "city": config.location_city, "country": config.location_country,
                         "coordinates": {"latitude": config.latitude, "longitude": config.longitude},
                         "evse_uid": evse[:36], "evse_id": evse, "connector_id": "1",
                         "connector_standard": config.connector_standard, "connector_format": config.connector_format,
                         "connector_power_type": config.connector_power_type},
        "currency": rating["currency"], "charging_periods": charging_periods,
        "total_cost": price("total_cost"), "total_fixed_cost": price("total_fixed_cost"),
        "total_energy": float(rating["total_energy"]), "total_energy_cost": price("total_energy_cost"),
        "total_time": float(rating["total_time"]), "total_time_cost": price("total_time_cost"),
        "total_parking_time": float(rating["total_parking_time"]), "total_parking_cost": price("total_parking_cost"),
        "last_updated": event.get("created_at") or rating["end"],
    }


def deliver(event: EventJson, config: BaseModel | None, ctx: DeliveryContext) -> dict[str, Any]:
    cfg = config if isinstance(config, OcpiConfig) else OcpiConfig()
    log = ctx.stores.ocpi_pushes
    if log is None:
        raise PermanentError("ocpi: no push store on this worker")
    tenant_id = str(event.get("tenant_id", ""))
    party = cfg.party()
    cdr = build_cdr(event, cfg, party)
    key = f"cdr:{cdr['id']}"
    sent, skipped = [], []
    for partner, token in log.partners(tenant_id):
        url = ocpi_partners.endpoint(partner, "cdrs")
        if url is None or log.pushed(tenant_id, partner.id, key):
            skipped.append(partner.id)
            continue
        them = Party(partner.country_code or "", partner.party_id or "")
        response = ctx.http.send("POST", url, json=cdr, headers=ocpi_client.headers(token, party, them))
        ocpi_client.data_of(response, f"POST cdr to {partner.id}")
        log.record(tenant_id, partner.id, key)
        sent.append(partner.id)
    return {"status": "sent" if sent else "skipped", "ref": cdr["id"], "partners": sent, "already": skipped}
