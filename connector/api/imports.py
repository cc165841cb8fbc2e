"""``POST /v1/imports``: a CSV/JSON session export with a column mapping, imported synchronously.

Multipart (``file`` + ``mapping`` as YAML/JSON text or ``preset=shell_recharge``) or JSON
(``{"filename", "content", "mapping"|"preset"}``). Answers the import report: accepted, duplicates,
and rejected rows with file, row, field and reason.
"""

from __future__ import annotations

from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, request

from connector.api.context import app_sink, request_tenant
from connector.api.errors import field_problem as problem
from connector.ingest.tabular import import_content, load_mapping
from connector.models.session_event import IngestError

bp = Blueprint("imports", __name__, url_prefix="/v1/imports")
MAX_BYTES = 20 * 1024 * 1024


def _mapping(text: str | None, preset: str | None, given: Any = None) -> Any:
    if given is not None:
        return load_mapping(given) if isinstance(given, dict) else load_mapping(str(given))
    if preset:
        return load_mapping(preset)
    if not text:
        raise IngestError("mapping", "required (YAML/JSON text) or preset=shell_recharge")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IngestError("mapping", f"not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError("mapping", "expected a mapping object")
    return load_mapping(data)


@bp.post("")
def create_import() -> Response:
    try:
        if request.files:
            upload = request.files.get("file")
            if upload is None:
                raise IngestError("file", "required (multipart field 'file')")
            name, content = upload.filename or "upload.csv", upload.read(MAX_BYTES + 1)
            mapping = _mapping(request.form.get("mapping"), request.form.get("preset"))
        else:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise IngestError("body", "expected multipart/form-data or a JSON object")
            if not isinstance(body.get("content"), str):
                raise IngestError("content", "required: the file's text")
            name, content = str(body.get("filename") or "upload.csv"), body["content"].encode("utf-8")
            mapping = _mapping(None, body.get("preset"), body.get("mapping"))
        if len(content) > MAX_BYTES:
            raise IngestError("file", f"larger than {MAX_BYTES} bytes")
    except IngestError as exc:
        return problem(400, "Invalid import", exc.field, exc.reason)
    report = import_content(name, content, mapping, app_sink(), request_tenant())
    return jsonify(report.to_dict())
