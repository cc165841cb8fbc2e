"""Billing: session-complete, invoices, ledger, audit log (and, from other modules, interim billing,
re-rating, adjustments, reconciliation, anomalies). Prices come only from ``connector.rating.rate``."""
