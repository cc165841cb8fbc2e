"""Vendor doubles: local HTTP servers on 127.0.0.1 that the adapters reach through the real sender."""
