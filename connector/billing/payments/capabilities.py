"""Which platforms report payments back, and how: what ``evbill platforms list`` shows next to each adapter."""

from __future__ import annotations

from connector.billing.payments import paypal, square, stripe, sync, xero

WEBHOOKS = frozenset(m.NAME for m in (stripe, square, xero, paypal))
CORRECTION_EVENTS = frozenset({"invoice.voided", "credit_note.issued"})


def payments_of(name: str) -> str | None:
    """``webhook``, ``poll``, ``webhook+poll`` or None (the platform reports no payments to us)."""
    ways = [way for way, on in (("webhook", name in WEBHOOKS), ("poll", name in sync.POLLERS)) if on]
    return "+".join(ways) or None


def sends_corrections(events: tuple[str, ...]) -> bool:
    """The adapter sends voids or credit notes to the vendor (it handles one of those events)."""
    return bool(CORRECTION_EVENTS & set(events))
