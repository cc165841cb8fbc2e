"""Outbound platform adapters: one small module per vendor, plus the shared sender, errors and registry."""
