"""Charge points written with the same ``ocpp`` package, recording every frame for schema checks."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as CP16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as CP201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect


class Recording:
    """Wraps a websocket connection; keeps (direction, [type, id, action|payload, ...]) frames."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.frames: list[tuple[str, list[Any]]] = []

    async def send(self, message: str) -> None:
        self.frames.append(("out", json.loads(message)))
        await self.connection.send(message)

    async def recv(self) -> str:
        message = await self.connection.recv()
        self.frames.append(("in", json.loads(message)))
        return message

    def calls(self, direction: str, action: str) -> list[dict[str, Any]]:
        return [f[3] for d, f in self.frames if d == direction and f[0] == 2 and f[2] == action]

    def results_for(self, action: str) -> list[dict[str, Any]]:
        ids = {f[1] for d, f in self.frames if d == "out" and f[0] == 2 and f[2] == action}
        return [f[2] for d, f in self.frames if d == "in" and f[0] == 3 and f[1] in ids]

    def errors(self) -> list[list[Any]]:
        return [f for d, f in self.frames if d == "in" and f[0] == 4]


class Client16(CP16):
    """Answers ChangeConfiguration(AuthorizationKey) with ``password_status``, keeping what it was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_status = "Accepted"
        self.new_passwords: list[str] = []

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> Any:
        if key == "AuthorizationKey":
            self.new_passwords.append(value)
            return result16.ChangeConfiguration(status=self.password_status)
        return result16.ChangeConfiguration(status="NotSupported")


class Client201(CP201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cost_updates: list[dict[str, Any]] = []
        self.cost_event = asyncio.Event()
        self.password_status = "Accepted"
        self.new_passwords: list[str] = []

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in set_variable_data:
            target = (item["component"]["name"], item["variable"]["name"])
            status = "UnknownVariable"
            if target == ("SecurityCtrlr", "BasicAuthPassword"):
                self.new_passwords.append(item["attribute_value"])
                status = self.password_status
            results.append({"attribute_status": status, "component": item["component"],
                            "variable": item["variable"]})
        return result201.SetVariables(set_variable_result=results)

    @on("CostUpdated")
    def on_cost_updated(self, total_cost: float, transaction_id: str, **_: Any) -> Any:
        self.cost_updates.append({"total_cost": total_cost, "transaction_id": transaction_id})
        self.cost_event.set()
        return result201.CostUpdated()


class Connected:
    """``async with Connected(url, "ocpp1.6", "CP1") as (cp, rec):`` — runs the receive loop."""

    def __init__(self, url: str, subprotocol: str, station: str, password: str | None = None,
                 ssl: Any = None) -> None:
        """``password``: HTTP Basic as the station (profiles 1, 2); ``ssl``: client context for wss (2, 3)."""
        self.url, self.subprotocol, self.station = url, subprotocol, station
        self.password, self.ssl = password, ssl

    async def __aenter__(self) -> tuple[Any, Recording]:
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.station}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.ws = await connect(f"{self.url}/{self.station}", subprotocols=[self.subprotocol],  # type: ignore[list-item]
                                additional_headers=headers, ssl=self.ssl)
        self.rec = Recording(self.ws)
        cls = Client16 if self.subprotocol == "ocpp1.6" else Client201
        self.cp = cls(self.station, self.rec, response_timeout=10)
        self.task = asyncio.create_task(self.cp.start())
        return self.cp, self.rec

    async def __aexit__(self, *exc: Any) -> None:
        self.task.cancel()
        await self.ws.close()
