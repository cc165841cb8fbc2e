"""Google Sheets sync (gspread + google-auth service account): billed sessions, a summary and exceptions.

``layout`` holds the pure mapping (rows, keys, summary), ``client`` the gspread client with our own
bounded retry, ``sync`` the idempotent read-before-write orchestration used by the platform adapter.
"""
