"""The rating invariants of issue 14 over random tariffs and sessions (bounded examples for CI).

The same checks run for >= 100,000 examples in ``bench/rating_properties.py`` (docs/rating.md says how).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.rating.properties.checks import PROPERTIES

CI = settings(max_examples=100, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize(("strategy", "check"), [(s, c) for _n, s, c in PROPERTIES],
                         ids=[n for n, _s, _c in PROPERTIES])
def test_property(strategy: Any, check: Any) -> None:
    CI(given(strategy)(check))()
