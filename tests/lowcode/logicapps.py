"""A small Logic Apps runtime for tests: runs a workflow.json's actions in runAfter order.

It supports exactly what our workflows use: ApiConnection actions (resolved against the connector's swagger
and sent to the API with the connection's credentials), Http, Response, Wait (skipped), Until, and the
expression functions triggerBody, body, parameters, first, encodeURIComponent, utcNow, addDays,
formatDateTime ('yyyy-MM-dd'), equals, not, setProperty. Anything else raises, so a workflow cannot silently use
something this runtime would fake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

Send = Callable[[str, str, dict | None, Any], tuple[int, Any]]  # (method, url, query, body) -> (status, json)

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                   r"|(?P<punct>\?\[|[(),\[\]]))")


class ExpressionError(ValueError):
    """An expression this runtime does not support (names it)."""


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ExpressionError(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class Evaluator:
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context

    def call(self, name: str, args: list[Any]) -> Any:
        ctx = self.context
        functions: dict[str, Callable[..., Any]] = {
            "triggerBody": lambda: ctx["trigger_body"],
            "body": lambda action: ctx["outputs"][action],
            "outputs": lambda action: {"body": ctx["outputs"][action]},
            "parameters": lambda pname: ctx["parameters"][pname],
            "first": lambda seq: (seq or [None])[0],
            "encodeURIComponent": lambda text: quote(str(text), safe=""),
            "utcNow": lambda: ctx.get("now", datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "addDays": lambda ts, days: (datetime.fromisoformat(ts.replace("Z", "+00:00"))
                                         + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "formatDateTime": self._format,
            "equals": lambda a, b: a == b,
            "setProperty": lambda obj, key, value: {**(obj or {}), key: value},
            "not": lambda a: not a,
        }
        if name not in functions:
            raise ExpressionError(f"function {name}() is not supported by the test runtime")
        return functions[name](*args)

    @staticmethod
    def _format(ts: str, fmt: str) -> str:
        if fmt != "yyyy-MM-dd":
            raise ExpressionError(f"formatDateTime format {fmt!r} not supported")
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).strftime("%Y-%m-%d")

    def evaluate(self, text: str) -> Any:
        tokens = tokenize(text)
        value, rest = self._expr(tokens)
        if rest:
            raise ExpressionError(f"trailing tokens in {text!r}")
        return value

    def _expr(self, tokens: list[tuple[str, str]]) -> tuple[Any, list]:
        kind, tok = tokens[0]
        tokens = tokens[1:]
        if kind == "str":
            value: Any = tok[1:-1].replace("''", "'")
        elif kind == "num":
            value = float(tok) if "." in tok else int(tok)
        elif kind == "name" and tok in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[tok]
        elif kind == "name":
            if not tokens or tokens[0][1] != "(":
                raise ExpressionError(f"{tok} is not a function call")
            tokens = tokens[1:]
            args = []
            while tokens[0][1] != ")":
                arg, tokens = self._expr(tokens)
                args.append(arg)
                if tokens[0][1] == ",":
                    tokens = tokens[1:]
            tokens = tokens[1:]
            value = self.call(tok, args)
        else:
            raise ExpressionError(f"unexpected {tok!r}")
        while tokens and tokens[0][1] in ("[", "?["):
            optional = tokens[0][1] == "?["
            key, tokens = self._expr(tokens[1:])
            if tokens[0][1] != "]":
                raise ExpressionError("missing ]")
            tokens = tokens[1:]
            if value is None and optional:
                continue
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                if not optional:
                    raise
                value = None
        return value, tokens


def evaluate_value(value: Any, context: dict[str, Any]) -> Any:
    """Evaluate a workflow input: '@expr' is the expression's value; '@{expr}' inside text is interpolated."""
    if isinstance(value, dict):
        return {k: evaluate_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_value(v, context) for v in value]
    if not isinstance(value, str) or "@" not in value:
        return value
    evaluator = Evaluator(context)
    if value.startswith("@") and not value.startswith("@{"):
        return evaluator.evaluate(value[1:])

    def interpolate(match: re.Match) -> str:
        result = evaluator.evaluate(match.group(1))
        return result if isinstance(result, str) else json.dumps(result)

    return re.sub(r"@\{((?:[^{}']|'(?:[^']|'')*')*)\}", interpolate, value)


def order(actions: dict[str, dict]) -> list[str]:
    """Topological order by runAfter (all our actions run after success of their predecessors)."""
    done: list[str] = []
    while len(done) < len(actions):
        ready = [n for n, a in actions.items() if n not in done and set(a.get("runAfter") or {}) <= set(done)]
        if not ready:
            raise ValueError(f"runAfter cycle or unknown predecessor among {sorted(set(actions) - set(done))}")
        done.append(sorted(ready)[0])
    return done


class WorkflowRun:
    """One run of a workflow definition against the API (via ``send``) with the connector's swagger."""

    def __init__(self, workflow: dict, swagger: dict, base_url: str, send: Send,
                 parameters: dict[str, Any] | None = None, now: datetime | None = None) -> None:
        definition = workflow["definition"]
        params = {k: v.get("defaultValue") for k, v in (definition.get("parameters") or {}).items()}
        params.update(parameters or {})
        self.definition, self.swagger, self.base_url, self.send = definition, swagger, base_url, send
        self.context: dict[str, Any] = {"outputs": {}, "parameters": params, "trigger_body": None}
        if now is not None:
            self.context["now"] = now
        self.calls: list[tuple[str, str, str]] = []  # (action, method, path)

    def run(self, trigger_body: Any = None) -> Any:
        self.context["trigger_body"] = trigger_body
        response = None
        for name in order(self.definition["actions"]):
            response = self.run_action(name, self.definition["actions"][name]) or response
        return response

    def run_action(self, name: str, action: dict) -> Any:
        kind = action["type"]
        inputs = action.get("inputs") or {}
        if kind == "ApiConnection":
            path = evaluate_value(inputs["path"], self.context)
            self.check_operation(action, inputs["method"], inputs["path"])
            query = evaluate_value(inputs.get("queries"), self.context)
            query = {k: v for k, v in (query or {}).items() if v is not None}
            status, body = self.send(inputs["method"].upper(), self.base_url + path, query or None,
                                     evaluate_value(inputs.get("body"), self.context))
            self.calls.append((name, inputs["method"], path))
            if status >= 400:
                raise AssertionError(f"action {name}: {inputs['method'].upper()} {path} -> {status} {body}")
            self.context["outputs"][name] = body
        elif kind == "Http":
            status, body = self.send(inputs["method"].upper(), evaluate_value(inputs["uri"], self.context), None,
                                     evaluate_value(inputs.get("body"), self.context))
            self.calls.append((name, inputs["method"], inputs["uri"]))
            if status >= 400:
                raise AssertionError(f"action {name}: HTTP {status}")
            self.context["outputs"][name] = body
        elif kind == "Response":
            return {"statusCode": inputs["statusCode"], "body": evaluate_value(inputs.get("body"), self.context)}
        elif kind == "Wait":
            self.context["outputs"][name] = None
        elif kind == "Until":
            for _ in range(int(action["limit"]["count"])):
                for inner in order(action["actions"]):
                    self.run_action(inner, action["actions"][inner])
                if evaluate_value(action["expression"], self.context):
                    break
            else:
                raise AssertionError(f"{name}: condition never met")
        else:
            raise ExpressionError(f"action type {kind} not supported by the test runtime")
        return None

    def check_operation(self, action: dict, method: str, path_template: str) -> None:
        op_id = (action.get("metadata") or {}).get("operationId")
        found = find_operation(self.swagger, method, path_template)
        if found is None or found["operationId"] != op_id:
            raise AssertionError(f"{method} {path_template}: not the connector operation {op_id}")


def find_operation(swagger: dict, method: str, path_template: str) -> dict | None:
    """The connector operation an action's (method, path) addresses; '@{...}' stands for a path parameter."""
    segments = re.sub(r"@\{(?:[^{}']|'(?:[^']|'')*')*\}", "\0", path_template).split("/")
    for path, item in swagger["paths"].items():
        parts = path.split("/")
        if len(parts) != len(segments) or method.lower() not in item:
            continue
        if all(s == p or (s == "\0" and p.startswith("{") and p.endswith("}")) for s, p in zip(segments, parts, strict=True)):
            return item[method.lower()]
    return None
