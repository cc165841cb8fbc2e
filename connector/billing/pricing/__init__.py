"""Pricing of stored sessions: the inputs of one ``rate()`` call, interim cost, re-rating, adjustments, incentives."""
