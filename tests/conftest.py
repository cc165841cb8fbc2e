"""Test-wide settings. Webhook receivers in the tests listen on 127.0.0.1, a loopback address that a
production connector refuses as a callback target (connector.security.egress); tests of that guard set
the variable themselves."""

from __future__ import annotations

import os

os.environ.setdefault("EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
