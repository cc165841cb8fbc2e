"""functions-framework entry for the tests: the real function, with the sink chosen by the test.

``EVBILL_TEST_TARIFF`` set → priced with that tariff: through the database pipeline on ``$DATABASE_URL``
when set, else in process (stdout logs carry the outcome either way). Neither set → exactly as deployed.
"""

import json
import os

from connector.serverless.gcp import on_session_message  # noqa: F401 - the target

if os.environ.get("EVBILL_TEST_TARIFF"):
    from connector.models import Tariff
    from connector.serverless.runtime import set_sink

    tariffs = [Tariff.model_validate(json.loads(os.environ["EVBILL_TEST_TARIFF"]))]
    if os.environ.get("DATABASE_URL"):  # the database pipeline: rated and billed
        from connector.billing.intake import DatabaseSink

        set_sink(DatabaseSink.from_url(os.environ["DATABASE_URL"], tariffs))
    else:
        from connector.ingest.memory import MemorySink

        set_sink(MemorySink(tariffs))
