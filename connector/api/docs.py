"""The contract at ``/openapi.json`` (from ``openapi/openapi.yaml``) and a self-contained docs page at ``/docs``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("docs", __name__)
SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"


@lru_cache(maxsize=4)
def load_spec(path: str = str(SPEC_PATH)) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(load_spec(str(current_app.config.get("OPENAPI_PATH") or SPEC_PATH)))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EV billing connector API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1b1b1b}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
details{margin:.4rem 0;border:1px solid #e3e3e3;border-radius:4px;padding:.4rem .6rem}
summary{cursor:pointer} code.m{display:inline-block;width:4.5rem;font-weight:bold}
.get{color:#0b6} .post{color:#06c} .patch{color:#a60} .delete{color:#c22}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:24rem}
textarea{width:100%;height:8rem;font-family:monospace} input{width:22rem}
</style></head><body>
<h1 id="title">API</h1><p id="desc"></p>
<p><label>X-API-Key <input id="key" type="password" autocomplete="off"></label></p>
<div id="ops">Loading /openapi.json ...</div>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
fetch("openapi.json").then(r => r.json()).then(spec => {
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  document.getElementById("desc").textContent = spec.info.description || "";
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item)) {
      if (!op.operationId) continue;
      (byTag[(op.tags || ["other"])[0]] ||= []).push({path, method, op});
    }
  let html = "";
  for (const [tag, ops] of Object.entries(byTag)) {
    html += `<h2>${esc(tag)}</h2>`;
    for (const {path, method, op} of ops) {
      const example = op.requestBody?.content?.["application/json"]?.example;
      html += `<details><summary><code class="m ${method}">${method.toUpperCase()}</code> <code>${esc(path)}</code>
        — ${esc(op.summary)} <small>(${esc(op.operationId)})</small></summary><p>${esc(op.description)}</p>
        <p>Path: <input data-path value="${esc(path)}"></p>
        ${op.requestBody ? `<textarea data-body>${esc(example ? JSON.stringify(example, null, 2) : "{}")}</textarea>` : ""}
        <button data-method="${method}">Send</button><pre data-out></pre></details>`;
    }
  }
  const ops = document.getElementById("ops"); ops.innerHTML = html;
  ops.addEventListener("click", async ev => {
    const button = ev.target.closest("button[data-method]"); if (!button) return;
    const box = button.closest("details"), body = box.querySelector("[data-body]");
    const init = {method: button.dataset.method.toUpperCase(),
      headers: {"X-API-Key": document.getElementById("key").value, "Content-Type": "application/json"}};
    if (body) init.body = body.value;
    const res = await fetch(box.querySelector("[data-path]").value, init);
    box.querySelector("[data-out]").textContent = res.status + "\\n" + await res.text();
  });
}).catch(e => { document.getElementById("ops").textContent = "Could not load the spec: " + e; });
</script></body></html>
"""


@bp.get("/docs")
def docs_page() -> ResponseReturnValue:
    return Response(PAGE, mimetype="text/html")


def spec_json() -> str:
    return json.dumps(load_spec())
