"""Policies given by their value mean that policy (faces and batch files pass text)."""

from __future__ import annotations

import pytest

from connector.money import RoundingPolicy
from connector.rating import RatingOptions, StepSizePolicy, TariffSwitchPolicy


def test_a_policy_given_as_text_is_the_member() -> None:
    opts = RatingOptions(rounding="total_half_up", step_size="exact",  # type: ignore[arg-type]
                         tariff_switch="apply_from_effective_time")  # type: ignore[arg-type]
    assert opts.rounding is RoundingPolicy.TOTAL_HALF_UP
    assert opts.step_size is StepSizePolicy.EXACT
    assert opts.tariff_switch is TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME


def test_an_unknown_policy_is_refused_when_the_options_are_made() -> None:
    with pytest.raises(ValueError, match="lock_forever"):
        RatingOptions(tariff_switch="lock_forever")  # type: ignore[arg-type]
