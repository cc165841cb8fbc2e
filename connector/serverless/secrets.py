"""The database URL of a serverless function, from a secret reference resolved once at cold start.

Why: a URL with its password in the function's environment is readable by anyone who may view the
function's configuration, and it lands in deployment templates. The environment holds only the ARN
(``EVBILL_DATABASE_URL_SECRET``) of a Secrets Manager secret or an SSM ``SecureString`` parameter; the
value is fetched with aws-lambda-powertools' parameters utility (boto3 underneath, the function's role).
A secret may hold the URL itself or the JSON that RDS-managed secrets hold (engine, host, port, ...).
"""

from __future__ import annotations

import json

from sqlalchemy.engine import URL

from connector.config import ConfigError

_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def parameter_name(arn: str) -> str:
    """``arn:aws:ssm:<region>:<account>:parameter/evbill/db`` names the parameter ``/evbill/db``."""
    rest = arn.split(":parameter/", 1)[1]
    return f"/{rest}" if "/" in rest else rest


def url_from_secret(value: str) -> str:
    """The URL in a secret: the string itself, or built from an RDS-style JSON secret."""
    text = value.strip()
    if not text.startswith("{"):
        return text
    fields = json.loads(text)
    engine = str(fields.get("engine") or "postgres")
    if engine not in _DRIVERS:
        raise ValueError(f"secret engine '{engine}' is not supported (PostgreSQL only)")
    return URL.create(_DRIVERS[engine], username=fields.get("username"), password=fields.get("password"),
                      host=fields.get("host"), port=int(fields["port"]) if fields.get("port") else None,
                      database=fields.get("dbname")).render_as_string(hide_password=False)


def resolve(reference: str) -> str:
    """Fetch the URL behind a Secrets Manager secret ARN or an SSM parameter ARN."""
    from aws_lambda_powertools.utilities import parameters

    if reference.startswith("arn:") and ":ssm:" in reference and ":parameter/" in reference:
        value = parameters.get_parameter(parameter_name(reference), decrypt=True, max_age=0)
    elif reference.startswith("arn:") and ":secretsmanager:" in reference:
        value = parameters.get_secret(reference, max_age=0)
    else:
        raise ConfigError(f"EVBILL_DATABASE_URL_SECRET: '{reference}' is not a Secrets Manager secret ARN or an "
                          "SSM parameter ARN")
    return url_from_secret(value if isinstance(value, str) else bytes(value).decode("utf-8"))
