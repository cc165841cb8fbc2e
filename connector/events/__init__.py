"""Events: envelope, transactional outbox, webhook subscriptions and the delivery worker."""
