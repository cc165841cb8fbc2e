"""One local server on 127.0.0.1 (port 0) for SendGrid, Slack, Jira, Salesforce and Zoho Analytics; each
vendor's state and routes are in ``fakes/<vendor>.py``.

It records every request and can replay scripted failures (429 with Retry-After, 500) before
answering normally, so retries are exercised over real HTTP. Vendor semantics that matter for
duplicates are implemented: Jira label search, Salesforce external-id upsert, Zoho updateadd.
"""

from __future__ import annotations

from flask import Flask

from tests.platforms.fakes.jira import Jira
from tests.platforms.fakes.salesforce import Salesforce
from tests.platforms.fakes.sendgrid import SendGrid
from tests.platforms.fakes.server import LocalServer
from tests.platforms.fakes.slack import Slack
from tests.platforms.fakes.zoho_analytics import ZohoAnalytics


class FakeVendors(SendGrid, Slack, Jira, Salesforce, ZohoAnalytics, LocalServer):
    def __init__(self) -> None:
        self.tokens_issued = 0  # Salesforce and Zoho Analytics tokens
        super().__init__()

    def routes(self, app: Flask) -> None:
        self.install_sendgrid(app)
        self.install_slack(app)
        self.install_jira(app)
        self.install_salesforce(app)
        self.install_zoho_analytics(app)
