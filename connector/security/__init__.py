"""Security: API keys, Entra ID bearer tokens, webhook HMAC signatures."""
