"""Revenue reconciliation of a day or month: re-rate, compare with what was billed, report."""
