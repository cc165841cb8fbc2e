"""Slack: billing completions, reconciliation summaries and anomalies to a finance channel (Block Kit).

One message per event, or a daily digest of billed sessions kept in the digest store so a redelivery or a
restart neither loses nor double-counts a session. See docs/platforms/slack.md."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.platforms.stores.digests import DigestStore
from connector.receipts.formatting import format_money, format_quantity

NAME = "slack"
EVENTS = ("session.billed", "reconciliation.completed", "billing.anomaly")
SECTION_TEXT_MAX = 3000  # Block Kit limit (slack_sdk enforces it)
MAX_LISTED = 10  # rows listed in a summary; the rest are counted


class SlackConfig(BaseModel):
    """Either ``bot_token`` + ``channel`` (chat.postMessage) or ``webhook_url`` (incoming webhook)."""

    model_config = ConfigDict(extra="forbid")

    bot_token: str | None = Field(default=None, repr=False)
    channel: str | None = None
    webhook_url: str | None = Field(default=None, repr=False)
    api_base: str = "https://slack.com/api"
    mode: Literal["per_event", "daily_digest"] = "per_event"
    digest_time_zone: str = "UTC"
    locale: str = "en_US"
    events: list[str] = Field(default_factory=lambda: list(EVENTS))

    @model_validator(mode="after")
    def _transport(self) -> SlackConfig:
        if self.webhook_url is None and not (self.bot_token and self.channel):
            raise ValueError("bot_token/channel/webhook_url: give bot_token and channel, or webhook_url")
        ZoneInfo(self.digest_time_zone)
        return self

    @property
    def target(self) -> str:
        """Stable name of the destination (webhook URLs are secrets: only their hash is stored)."""
        if self.bot_token and self.channel:
            return f"channel:{self.channel}"
        return "webhook:" + hashlib.sha256(str(self.webhook_url).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- Block Kit helpers (pure)

def _mrkdwn_escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_TEXT_MAX:
        text = text[: SECTION_TEXT_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_mrkdwn_escape(v)}"}
                                          for k, v in pairs[:10]]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2000]}]}


def _money(value: object, currency: str, locale: str) -> str:
    return format_money(Decimal(str(value)), currency, locale)


def billed_message(event: EventJson, config: SlackConfig) -> dict[str, Any]:
    """One ``session.billed`` event -> ``{"text", "blocks"}``."""
    data = event.get("data") or {}
    session = data.get("session") or {}
    invoice: Mapping[str, Any] = data.get("invoice") or {}
    rating: Mapping[str, Any] = data.get("rating") or {}
    currency = invoice.get("currency") or rating.get("currency") or session.get("currency") or "EUR"
    sid = session.get("id") or rating.get("session_id") or "?"
    due = _money(invoice.get("amount_due", "0"), currency, config.locale)
    energy = rating.get("total_energy")
    pairs = [("Session", sid), ("Station", session.get("station_id") or "—"),
             ("Customer", (invoice.get("customer") or {}).get("name") or session.get("customer_id") or "—"),
             ("Energy", f"{format_quantity(Decimal(str(energy)), config.locale)} kWh" if energy else "—"),
             ("Net", _money(invoice.get("net_total", "0"), currency, config.locale)),
             ("Tax", _money(invoice.get("tax_total", "0"), currency, config.locale)),
             ("Amount due", due), ("Invoice", invoice.get("number") or invoice.get("id") or "—")]
    text = f"Session {sid} billed {due}"
    blocks = [_header("Charging session billed"), _fields(pairs),
              _context(f"event `{_mrkdwn_escape(event.get('id', ''))}` · tenant {_mrkdwn_escape(event.get('tenant_id', ''))}")]
    return {"text": text, "blocks": blocks}


def reconciliation_message(event: EventJson, config: SlackConfig) -> dict[str, Any]:
    rec = (event.get("data") or {}).get("reconciliation") or {}
    summary = rec.get("summary") or {}
    currency = summary.get("currency") or rec.get("currency") or "EUR"
    exceptions = rec.get("exceptions") or []
    period = f"{rec.get('period_start', '?')} → {rec.get('period_end', '?')}"
    pairs = [(label, _money(summary[key], currency, config.locale))
             for key, label in (("expected", "Expected"), ("billed", "Billed"), ("paid", "Paid"),
                                ("difference", "Difference")) if summary.get(key) is not None]
    pairs.append(("Exceptions", str(len(exceptions))))
    blocks = [_header(f"Reconciliation {rec.get('kind', '')} completed".replace("  ", " ")),
              _section(f"*Period* {_mrkdwn_escape(period)}"), _fields(pairs)]
    if exceptions:
        listed = []
        for exc in exceptions[:MAX_LISTED]:
            if isinstance(exc, dict):
                bits = [str(exc.get(k)) for k in ("session_id", "station_id", "reason", "rule", "message",
                                                  "difference") if exc.get(k) not in (None, "")]
                listed.append("• " + _mrkdwn_escape(" · ".join(bits) or json.dumps(exc)[:200]))
            else:
                listed.append("• " + _mrkdwn_escape(exc))
        more = len(exceptions) - MAX_LISTED
        blocks.append(_section("\n".join(listed) + (f"\n…and {more} more" if more > 0 else "")))
    diff = summary.get("difference")
    text = f"Reconciliation {rec.get('id', '')} {period}: difference " + (
        _money(diff, currency, config.locale) if diff is not None else "n/a") + f", {len(exceptions)} exceptions"
    return {"text": text, "blocks": blocks}


def anomaly_message(event: EventJson, config: SlackConfig) -> dict[str, Any]:
    anomaly = (event.get("data") or {}).get("anomaly") or {}
    sev = str(anomaly.get("severity") or "warning")
    icon = {"critical": ":red_circle:", "high": ":red_circle:", "error": ":red_circle:"}.get(sev, ":warning:")
    pairs = [("Rule", anomaly.get("rule") or "?"), ("Severity", sev),
             ("Session", anomaly.get("session_id") or "—"), ("Station", anomaly.get("station_id") or "—")]
    text = f"Billing anomaly {anomaly.get('rule', '')} on session {anomaly.get('session_id') or '—'}"
    blocks = [_section(f"{icon} *Billing anomaly* — {_mrkdwn_escape(anomaly.get('message') or anomaly.get('rule'))}"),
              _fields(pairs), _context(f"anomaly `{_mrkdwn_escape(anomaly.get('id', ''))}`")]
    return {"text": text, "blocks": blocks}


def digest_message(day: date, items: list[dict[str, Any]], config: SlackConfig) -> dict[str, Any]:
    """The daily digest: sessions, energy and amount due per currency (sums of invoiced amounts)."""
    per_currency: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    energy = Decimal(0)
    for it in items:
        tot = per_currency[it["currency"]]
        tot[0] += Decimal(it["net_total"])
        tot[1] += Decimal(it["tax_total"])
        tot[2] += Decimal(it["amount_due"])
        energy += Decimal(it.get("energy") or "0")
    pairs = [("Sessions", str(len(items))), ("Energy", f"{format_quantity(energy, config.locale)} kWh")]
    for cur in sorted(per_currency):
        net, tax, due = per_currency[cur]
        pairs.append((f"Amount due ({cur})", format_money(due, cur, config.locale)))
        pairs.append((f"Net / tax ({cur})", f"{format_money(net, cur, config.locale)} / "
                                            f"{format_money(tax, cur, config.locale)}"))
    listed = [f"• {_mrkdwn_escape(it['session_id'])} · {_mrkdwn_escape(it.get('station_id') or '—')} · "
              f"{format_money(Decimal(it['amount_due']), it['currency'], config.locale)}"
              for it in items[:MAX_LISTED]]
    more = len(items) - MAX_LISTED
    blocks = [_header(f"Billing digest {day.isoformat()}"), _fields(pairs)]
    if listed:
        blocks.append(_section("\n".join(listed) + (f"\n…and {more} more" if more > 0 else "")))
    totals = ", ".join(format_money(v[2], k, config.locale) for k, v in sorted(per_currency.items())) or "nothing"
    return {"text": f"Billing digest {day.isoformat()}: {len(items)} sessions, {totals}", "blocks": blocks}


def message_for(event: EventJson, config: SlackConfig) -> dict[str, Any] | None:
    """Per-event message, or None when the event is not posted one by one (digest mode / not configured)."""
    kind = event.get("type")
    if kind not in config.events:
        return None
    if kind == "session.billed":
        return None if config.mode == "daily_digest" else billed_message(event, config)
    if kind == "reconciliation.completed":
        return reconciliation_message(event, config)
    if kind == "billing.anomaly":
        return anomaly_message(event, config)
    return None


def request_for(message: dict[str, Any], config: SlackConfig) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(url, headers, JSON body) for the configured transport."""
    if config.bot_token and config.channel:
        body = {"channel": config.channel, "text": message["text"], "blocks": message["blocks"],
                "unfurl_links": False, "unfurl_media": False}
        return (config.api_base.rstrip("/") + "/chat.postMessage",
                {"Authorization": f"Bearer {config.bot_token}", "Content-Type": "application/json; charset=utf-8"},
                body)
    return str(config.webhook_url), {"Content-Type": "application/json"}, {"text": message["text"],
                                                                          "blocks": message["blocks"]}


def form_view(body: dict[str, Any]) -> dict[str, Any]:
    """The chat.postMessage body as the (form-param) vendor schema describes it: ``blocks`` as a JSON string."""
    out = dict(body)
    if isinstance(out.get("blocks"), list):
        out["blocks"] = json.dumps(out["blocks"])
    return out


# Slack answers HTTP 200 {"ok": false, "error": …}: these errors are worth a retry, the rest are permanent.
RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout"})


def api_error(status: int, payload: Any) -> tuple[bool, str] | None:
    """None when Slack accepted the message; else (retryable, reason)."""
    if isinstance(payload, dict):
        if payload.get("ok") is True:
            return None
        if "ok" in payload:
            err = str(payload.get("error") or "unknown_error")
            return err in RETRYABLE_ERRORS, f"slack error {err}"
    if 200 <= status < 300:
        return None
    return (status == 429 or status >= 500), f"HTTP {status}: {str(payload)[:200]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["SlackConfig", "anomaly_message", "api_error", "billed_message", "digest_message",
           "form_view", "message_for", "reconciliation_message", "request_for"]


# ---------------------------------------------------------------- delivery (through the shared sender)

def post(message: dict[str, Any], config: SlackConfig, http: Any) -> str | None:
    """Post one message; returns Slack's ``ts`` (None for webhooks). Slack's ``ok: false`` is classified here;
    HTTP-level retries (429 + Retry-After, 5xx) are the shared sender's."""
    from connector.platforms.errors import PermanentError, RetryableError

    url, headers, body = request_for(message, config)
    resp = http.send("POST", url, json=body, headers=headers)
    try:
        payload: Any = resp.json()
    except ValueError:
        payload = resp.text
    err = api_error(resp.status_code, payload)
    if err is not None:
        retryable, reason = err
        raise (RetryableError if retryable else PermanentError)(reason)
    return payload.get("ts") if isinstance(payload, dict) else None


def flush_digests(tenant: str, config: SlackConfig, http: Any, store: DigestStore,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """Post every closed day's digest once (call after midnight from a scheduler, or on the next event)."""
    now = now or utcnow()
    sent = []
    for day, items in store.due(tenant, config, now):
        if not store.claim(tenant, config, day, now):
            continue
        try:
            ts = post(digest_message(day, items, config), config, http)
        except Exception:
            store.release(tenant, config, day)
            raise
        store.mark_sent(tenant, config, day, now, ts)
        sent.append({"day": day.isoformat(), "sessions": len(items), "ts": ts})
    return sent


def deliver(event: EventJson, config: SlackConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Post the event's message, or (daily digest) record it and post any closed day's digest."""
    http, store, now = ctx.http, ctx.stores.digests, ctx.clock()
    if event.get("type") == "session.billed" and config.mode == "daily_digest" and "session.billed" in config.events:
        if store is None:
            raise ValueError("stores.digests: daily_digest mode needs a DigestStore")
        added = store.add(event, config, now)
        digests_sent = flush_digests(str(event.get("tenant_id", "")), config, http, store, now)
        return {"status": "accumulated" if added else "duplicate", "digests": digests_sent}
    message = message_for(event, config)
    if message is None:
        return {"status": "skipped", "reason": f"event type {event.get('type')!r} is not posted"}
    return {"status": "sent", "ref": post(message, config, http)}


Config = SlackConfig


def idempotency_key(event: EventJson, config: SlackConfig | None = None) -> str:
    """Per event: Slack has no idempotency, so the outbox must not post an event twice."""
    return f"slack:{event.get('tenant_id', '')}:{event.get('id')}"
