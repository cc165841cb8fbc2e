"""Per-tenant platform settings: enabled, config (secrets as references), field mapping.

Two sources, one shape: rows in ``platform_configs`` (API ``PUT /v1/platforms/{name}``) and a YAML/JSON
file named by ``$EVBILL_PLATFORMS_FILE`` (operators who keep config in git). A row wins over the file.
Secret fields (``Field(repr=False)`` in the adapter's ``Config``) must be references, ``env:VAR`` or
``file:/path``, resolved only when a delivery is sent: the database, the file and the API never hold or
echo a vendor key.

File shape::

    tenants:
      t1:
        sendgrid:
          enabled: true
          config: {api_key: "env:SENDGRID_API_KEY", from_email: billing@example.com}
          field_mapping: {}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from connector.config import PLATFORMS_FILE, PlatformsSettings, env_secret
from connector.platforms.registry import Platform
from connector.storage.tables.platforms import PlatformConfigRow
from connector.validation import FieldError

FILE_ENV = PLATFORMS_FILE
REF_PREFIXES = ("env:", "file:")


class SettingsError(FieldError):
    """Bad platform settings; ``field``/``reason`` become a 422 naming the field."""


@dataclass
class PlatformSettings:
    enabled: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    field_mapping: dict[str, Any] = field(default_factory=dict)
    source: str = "none"  # "database", "file" or "none"

    @property
    def configured(self) -> bool:
        return self.source != "none"


def is_reference(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and any(value.startswith(p) and len(value) > len(p) for p in REF_PREFIXES)


def resolve(value: str, name: str) -> str:
    """The secret behind ``env:VAR`` / ``file:/path``; a missing one is permanent (config is wrong)."""
    kind, _, ref = value.partition(":")
    if kind == "env":
        secret = env_secret(ref)
        if secret is None:
            raise SettingsError(f"config.{name}", f"environment variable {ref} is not set")
        return secret
    try:
        return Path(ref).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"config.{name}", f"secret file {ref} cannot be read: {exc.strerror}") from exc


_FILE_CACHE: dict[tuple[str, float], dict[str, dict[str, PlatformSettings]]] = {}


def load_file(path: str | Path | None = None) -> dict[str, dict[str, PlatformSettings]]:
    """tenant -> platform -> settings from the config file (``{}`` when none is configured).

    Parsed once per file modification time: the worker asks for every event and platform. Without ``path``,
    the file ``$EVBILL_PLATFORMS_FILE`` names as the process sees it now."""
    path = path or PlatformsSettings.from_environ().platforms_file
    if not path:
        return {}
    try:
        key = (str(path), Path(path).stat().st_mtime)
    except OSError as exc:
        raise SettingsError(FILE_ENV, f"{path} cannot be read: {exc.strerror}") from exc
    if key not in _FILE_CACHE:
        _FILE_CACHE.clear()
        _FILE_CACHE[key] = _parse(Path(path))
    return _FILE_CACHE[key]


def _parse(path: Path) -> dict[str, dict[str, PlatformSettings]]:
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    tenants = (doc or {}).get("tenants") or {}
    if not isinstance(tenants, dict):
        raise SettingsError("tenants", f"{path}: expected a mapping of tenant id -> platforms")
    out: dict[str, dict[str, PlatformSettings]] = {}
    for tenant, platforms in tenants.items():
        for name, entry in (platforms or {}).items():
            entry = entry or {}
            out.setdefault(str(tenant), {})[str(name)] = PlatformSettings(
                bool(entry.get("enabled", True)), dict(entry.get("config") or {}),
                dict(entry.get("field_mapping") or {}), "file")
    return out


def effective(db: Session, tenant_id: str, name: str) -> PlatformSettings:
    row = db.get(PlatformConfigRow, (tenant_id, name))
    if row is not None:
        return PlatformSettings(row.enabled, dict(row.config or {}), dict(row.field_mapping or {}), "database")
    return load_file().get(tenant_id, {}).get(name) or PlatformSettings()


def enabled_platforms(db: Session, tenant_id: str, names: list[str]) -> list[str]:
    return [n for n in names if effective(db, tenant_id, n).enabled]


def merged(platform: Platform, settings: PlatformSettings) -> dict[str, Any]:
    """Config + field mapping as the adapter's ``Config`` wants it: under ``field_mapping`` when the model
    has that field, else the mapping keys (accounts, tax codes...) are config fields themselves."""
    data = dict(settings.config)
    model = platform.config_model
    if settings.field_mapping:
        if model is not None and "field_mapping" in model.model_fields:
            data["field_mapping"] = settings.field_mapping
        else:
            data.update(settings.field_mapping)
    return data


def _error(exc: ValidationError, prefix: str = "config") -> SettingsError:
    err = exc.errors()[0]
    return SettingsError(".".join([prefix, *(str(p) for p in err["loc"])]), err["msg"])


def validate(platform: Platform, settings: PlatformSettings) -> None:
    """Check settings before storing: secrets are references, everything else validates against ``Config``."""
    secrets = platform.secret_fields()
    for key, value in settings.config.items():
        if key in secrets and value is not None and not is_reference(value):
            raise SettingsError(f"config.{key}", "a secret is stored as a reference: env:VAR or file:/path")
    model = platform.config_model
    if model is None:
        return
    try:
        model.model_validate(merged(platform, settings))
    except ValidationError as exc:
        real = [e for e in exc.errors() if not (e["loc"] and e["loc"][0] in secrets
                                                 and is_reference(settings.config.get(str(e["loc"][0]))))]
        if real:
            err = real[0]
            raise SettingsError(".".join(["config", *(str(p) for p in err["loc"])]), err["msg"]) from exc


def build_config(platform: Platform, settings: PlatformSettings) -> BaseModel | None:
    """The adapter's ``Config`` with secrets resolved (send time only; never stored or logged)."""
    model = platform.config_model
    data = merged(platform, settings)
    for key in platform.secret_fields():
        value = data.get(key)
        if is_reference(value):
            secret = resolve(value, key)
            annotation = model.model_fields[key].annotation if model else str
            data[key] = secret if annotation in (str, str | None) else json.loads(secret)
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _error(exc) from exc


def public(platform: Platform, settings: PlatformSettings) -> dict[str, Any]:
    """What the API shows: references as stored, anything else in a secret field masked."""
    secrets = platform.secret_fields()
    config = {k: (v if k not in secrets or is_reference(v) or v is None else "***")
              for k, v in settings.config.items()}
    return {"name": platform.name, "summary": platform.summary, "events": list(platform.events),
            "enabled": settings.enabled, "configured": settings.configured, "source": settings.source,
            "config": config, "field_mapping": settings.field_mapping,
            "config_keys": [{"name": k.name, "required": k.required, "secret": k.secret,
                             "description": k.description} for k in platform.config_keys()]}


def put(db: Session, tenant_id: str, platform: Platform, enabled: bool, config: dict[str, Any],
        field_mapping: dict[str, Any]) -> PlatformSettings:
    """Validate and upsert the tenant's row (no commit: the caller's transaction)."""
    settings = PlatformSettings(enabled, config, field_mapping, "database")
    validate(platform, settings)
    row = db.get(PlatformConfigRow, (tenant_id, platform.name))
    if row is None:
        row = PlatformConfigRow(tenant_id=tenant_id, platform=platform.name)
        db.add(row)
    row.enabled, row.config, row.field_mapping = enabled, config, field_mapping
    db.flush()
    return settings


# --------------------------------------------------------------- service functions behind the API


def _platform(name: str) -> Platform:
    from connector.platforms import registry

    return registry.get(name)  # NotFound: an unknown platform


def list_platforms(db: Session, tenant_id: str) -> dict[str, Any]:
    from connector.platforms import registry

    return {"items": [public(p, effective(db, tenant_id, n)) for n, p in registry.discover().items()]}


def get_platform(db: Session, tenant_id: str, name: str) -> dict[str, Any]:
    platform = _platform(name)
    return public(platform, effective(db, tenant_id, name))


def put_platform(db: Session, tenant_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Set enabled/config/field_mapping; an omitted key keeps its current value (so ``{"enabled": false}``
    switches a platform off without resending its config)."""
    platform = _platform(name)
    current = effective(db, tenant_id, name)
    enabled = body.get("enabled", current.enabled)
    if not isinstance(enabled, bool):
        raise SettingsError("enabled", "must be true or false")
    parts = {}
    for key in ("config", "field_mapping"):
        value = body.get(key, getattr(current, key))
        if not isinstance(value, dict):
            raise SettingsError(key, "must be a JSON object")
        parts[key] = value
    unknown = sorted(set(body) - {"enabled", "config", "field_mapping"})
    if unknown:
        raise SettingsError(unknown[0], "unknown property (enabled, config, field_mapping)")
    settings = put(db, tenant_id, platform, enabled, parts["config"], parts["field_mapping"])
    return public(platform, settings)
