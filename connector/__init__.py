"""EV charging billing connector: rate charging sessions, bill them, publish the results.

The rating core (``connector.rating``) is pure: no I/O, no clock. Every face (API, CLI,
spreadsheet add-ins, serverless handlers) calls it rather than re-implementing prices.
"""

__version__ = "0.1.0"
