"""Text limits shared by the models and the tables: one source, so input the models accept always fits its
column (a longer value is a 422 naming the field, never a database error)."""

from __future__ import annotations

TENANT_ID_MAX = 64
CUSTOMER_ID_MAX = 64
CUSTOMER_NAME_MAX = 200
CUSTOMER_CLASS_MAX = 40
TAX_REGION_MAX = 40
EMAIL_MAX = 320
LOCALE_MAX = 20
SESSION_ID_MAX = 64
STATION_ID_MAX = 64
TARIFF_ID_MAX = 36
EVENT_ID_MAX = 200
