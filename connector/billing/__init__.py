"""Billing: every use case that turns a rated session into money on record.

``intake`` (the one ingestion path), ``invoicing/`` (session → invoice lines, the invoice lifecycle),
``pricing/`` (interim cost, re-rating, adjustments, incentives), ``ledger/`` (journal, accounts, audit),
``reconciliation/``, ``tariffs``, ``customers``, ``anomalies`` and the ``scheduler``. Prices come only from
``connector.rating.rate``; every function takes ``db`` and ``tenant_id`` and leaves the commit to its caller.
"""
