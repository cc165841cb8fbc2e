"""The ledger: the append-only double-entry journal, account mapping per tenant, and the audit log."""
