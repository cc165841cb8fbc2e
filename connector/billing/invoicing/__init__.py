"""Invoicing: a completed session becomes invoice lines; invoices live from draft to paid or void."""
