"""One small module per vendor; the shared machinery (sender, outbox, OAuth, settings) is beside them."""
