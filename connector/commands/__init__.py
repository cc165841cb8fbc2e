"""Sub-commands of ``evbill``; each module registers itself (see ``connector.cli``)."""
