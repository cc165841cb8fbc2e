"""What adapters keep in the worker's database between deliveries: Jira tickets, Slack digests, Concur expenses.

They live here, not in the adapter modules, so ``connector.platforms.context`` can name their types
without importing an adapter.
"""
