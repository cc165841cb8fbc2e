"""Payments that come back: vendor webhooks and polls turned into paid, partly paid or reopened invoices.

``record`` applies a vendor's payment or reversal to our invoice (ledger, status, events, anomalies);
``vendors`` reads each payment platform's webhook or API answer into those facts; ``inbound`` is the
use case a webhook route calls (verify, dedupe by the vendor's event id, apply); ``sync`` polls the vendors'
APIs to repair missed webhooks. See docs/platforms/payments.md.
"""
