"""Lines taxed twice (US state + city sales tax) at vendors that take one tax per line (Zoho Books, NetSuite).

Those vendors model the combination as a tax group, a tax of its own with its own id, so a tenant's settings map
the combination to that id: ``tax_groups`` keyed by the line's rates joined with ``+`` (``"6.25+2.25"``), or by
``name:rate`` components when two jurisdictions share rates (``"State sales tax:6.25+City sales tax:2.25"``).
Keys are compared in a normal form (rates normalized, components sorted), so the order never matters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def rate_text(rate: Any) -> str:
    """"6.25", "6.250" and "6.2500" are one rate."""
    return format(Decimal(str(rate)).normalize(), "f")


def _component(text: str) -> str:
    """``"6.25"`` or ``"State sales tax:6.25"`` in normal form; ValueError naming the part that is not one."""
    name, sep, rate = text.strip().rpartition(":")
    try:
        value = rate_text(rate.strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{text.strip()!r} is not a rate or name:rate") from None
    if sep and not name.strip():
        raise ValueError(f"{text.strip()!r} has an empty tax name")
    return f"{name.strip()}:{value}" if sep else value


def group_key(key: str) -> str:
    """A settings key in normal form: ``"6.25 + 2.25"`` -> ``"2.25+6.25"``. A key of one tax is refused: that
    is a plain tax, mapped with the adapter's single-tax setting."""
    parts = [_component(p) for p in key.split("+")]
    if len(parts) < 2:
        raise ValueError(f"{key!r} names one tax; a tax group combines two or more (one rate: map it as a tax)")
    return "+".join(sorted(parts))


def normalized(groups: Mapping[str, str]) -> dict[str, str]:
    """The ``tax_groups`` setting with its keys in normal form (for the config validators); two keys for one
    combination are refused, since only one group can be sent."""
    out: dict[str, str] = {}
    for key, group_id in groups.items():
        norm = group_key(key)
        if norm in out:
            raise ValueError(f"{key!r} is the same combination as another key ({norm})")
        if not str(group_id).strip():
            raise ValueError(f"{key!r} maps to an empty id")
        out[norm] = group_id
    return out


def line_keys(taxes: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """A line's taxes as (named key, rate key), each in the settings' normal form, in lookup order."""
    taxes = list(taxes)
    named = "+".join(sorted(f"{str(t.get('name') or '').strip()}:{rate_text(t['rate'])}" for t in taxes))
    rates = "+".join(sorted(rate_text(t["rate"]) for t in taxes))
    return named, rates


def lookup(groups: Mapping[str, str], taxes: Iterable[Mapping[str, Any]]) -> str | None:
    """The group id mapped for these taxes (by name:rate first, then by rates), or None. The mapping's keys are
    put in normal form here too, so a settings object built without its validator still matches."""
    named, rates = line_keys(taxes)
    keys: dict[str, str] = {}
    for key, group_id in groups.items():
        try:
            keys[group_key(key)] = group_id
        except ValueError:  # refused when the settings were validated; nothing to match here
            continue
    return keys.get(named) or keys.get(rates)


def missing(vendor: str, line_id: Any, taxes: Iterable[Mapping[str, Any]]) -> str:
    """The mapping error's text: which taxes, and the two keys that would map them."""
    taxes = list(taxes)
    listed = " + ".join(f"{t.get('name') or 'tax'} {rate_text(t['rate'])} %" for t in taxes)
    rates = "+".join(rate_text(t["rate"]) for t in taxes)
    named = "+".join(f"{t.get('name') or 'tax'}:{rate_text(t['rate'])}" for t in taxes)
    return (f"line {line_id} has {listed}; {vendor} takes one tax per line: create a tax group of these taxes "
            f"there and map its id as tax_groups[{rates!r}] (or [{named!r}])")
