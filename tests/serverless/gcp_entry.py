"""functions-framework entry for the tests: the real function, with the sink chosen by the test.

``EVBILL_TEST_TARIFF`` set → the in-process sink priced with that tariff (stdout logs carry the outcome);
otherwise the database pipeline on ``$DATABASE_URL``, exactly as deployed.
"""

import json
import os

from connector.serverless.gcp import on_session_message  # noqa: F401 - the target

if os.environ.get("EVBILL_TEST_TARIFF"):
    from connector.ingest.memory import MemorySink
    from connector.models import Tariff
    from connector.serverless.runtime import set_sink

    set_sink(MemorySink([Tariff.model_validate(json.loads(os.environ["EVBILL_TEST_TARIFF"]))]))
