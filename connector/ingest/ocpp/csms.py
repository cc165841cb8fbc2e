"""The CSMS: a websockets server speaking OCPP 1.6J and 2.0.1 through the ``ocpp`` package.

Transactions become ``SessionEvent`` s (start/update/end) fed to the one ingestion path (a
``SessionSink``). Storage calls run in a thread pool so the event loop keeps serving other stations;
messages of one station are handled in order. Event ids are derived from message content, so a
charger that re-sends a transaction message after a reconnect is ignored as a duplicate.

Handshake security (``registry`` set, as ``evbill csms`` does): OCPP security profiles 1-3 per registered
station, checked before the websocket upgrade (``connector.ingest.ocpp.security``). ``rotate_password``
changes a station's Basic-auth password from the CSMS (2.0.1 ``SetVariables`` of
``SecurityCtrlr.BasicAuthPassword``, 1.6 ``ChangeConfiguration`` of ``AuthorizationKey``); the new hash is
stored only once the station accepted it.

2.0.1 only: while a transaction runs, the running cost is pushed with ``CostUpdated``; the final cost
(incl. taxes) goes back in ``TransactionEventResponse.totalCost``. OCPP has JSON numbers only, so the
Decimal is sent as the float with the same shortest decimal text (6.37 → 6.37), at the wire only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import ssl
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from connector.ingest.ocpp.meter import readings, to_samples
from connector.ingest.ocpp.security import StationRecord, StationRegistry
from connector.models.session_event import IngestError, SessionEvent, parse_event
from connector.models.sink import IngestOutcome, SessionSink
from connector.security.passwords import generate_password

LOG = logging.getLogger("connector.ingest.ocpp")
SUBPROTOCOLS = [Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")]
# Charging states (2.0.1 transactionInfo.chargingState, 1.6 StatusNotification) that end charging: idle starts
IDLE_STATES = {"EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle", "Finishing"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class CsmsSettings:
    tenant_id: str = "default"
    # per station id: Session fields set at start (time_zone, location_id, tariff_id, currency, customer_id)
    stations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # id token → customer id (unknown tokens are accepted and billed without a customer)
    token_customers: Mapping[str, str] = field(default_factory=dict)
    cost_update_interval: float = 60.0  # seconds between CostUpdated per transaction (0: on every update)
    cost_updates: bool = True
    workers: int = 4  # storage threads; 1 serialises SQLite writers
    heartbeat_interval: int = 300


@dataclass(slots=True)
class TxState:
    session_id: str
    baseline_wh: Decimal | None
    last_kwh: Decimal | None = None
    charging_ended_at: str | None = None
    last_cost_push: float = 0.0
    connector: str | None = None
    last_seq: int = -1  # 2.0.1 seqNo of the last message applied; an older one is a replay


class Csms:
    """Owns the sink, the thread pool, the transaction state and the counters the bench prints."""

    def __init__(self, sink: SessionSink, settings: CsmsSettings | None = None,
                 registry: StationRegistry | None = None) -> None:
        """``registry`` None: any station id may connect (tests and labs); ``evbill csms`` always sets one."""
        self.sink = sink
        self.settings = settings or CsmsSettings()
        self.registry = registry
        self.records: dict[str, StationRecord] = {}  # station id → registry entry at its last handshake
        self.executor = ThreadPoolExecutor(max(1, self.settings.workers), thread_name_prefix="csms-db")
        # handshake checks (registry lookup + scrypt) have their own threads: a reconnect storm must not
        # hold up the storage of connected stations' messages
        self.auth_executor = ThreadPoolExecutor(2, thread_name_prefix="csms-auth")
        self.stats: Counter[str] = Counter()
        self.connected: dict[str, Any] = {}
        self.tx: dict[tuple[str, str], TxState] = {}
        self.rejections: deque[dict[str, str]] = deque(maxlen=1000)  # the latest, for operators and tests
        self._tx16 = itertools.count(int(time.time() * 1000) % 1_000_000_000)
        # 1.6 StartTransaction content → transaction id, so a re-sent start gets the same id (bounded)
        self._start16: OrderedDict[str, int] = OrderedDict()

    async def offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def session_fields(self, station_id: str) -> dict[str, Any]:
        record = self.records.get(station_id)
        return {**self.settings.stations.get(station_id, {}), **(record.session_fields if record else {})}

    async def check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """``process_request`` hook: refuse (HTTP 401, before the upgrade) what the security profile forbids."""
        if self.registry is None:
            return None
        station_id = _station_from_path(request.path)
        ssl_object = connection.transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert() if ssl_object is not None else None
        record, reason = await asyncio.get_running_loop().run_in_executor(
            self.auth_executor, self.registry.check, station_id, request.headers.get("Authorization"),
            ssl_object is not None, peer)
        if reason is None and record is not None:
            self.records[station_id] = record
            return None
        self.stats["handshakes.refused"] += 1
        self.rejections.append({"station_id": station_id, "action": "handshake", "field": "Authorization",
                                "reason": str(reason)})
        LOG.warning("refused connection as %s: %s", station_id, reason)
        response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    async def rotate_password(self, station_id: str, password: str | None = None) -> str:
        """Give a connected station a new Basic-auth password; the hash is stored only when it answers
        ``Accepted``. Returns the station's status (or ``NotConnected`` / ``NotApplicable``)."""
        point = self.connected.get(station_id)
        record = self.records.get(station_id)
        if point is None:
            return "NotConnected"
        if self.registry is None or record is None or record.profile == 3:
            return "NotApplicable"  # profile 3 authenticates by certificate, not by password
        if isinstance(point, Station201):
            password = password or generate_password()
            result = await point.call(call201.SetVariables(set_variable_data=[{
                "attribute_type": "Actual", "attribute_value": password,
                "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]))
            status = str(result.set_variable_result[0]["attribute_status"])
        else:
            # 1.6 security whitepaper: AuthorizationKey, up to 20 bytes written as 40 hexadecimal digits
            password = password or secrets.token_hex(20)
            result = await point.call(call16.ChangeConfiguration(key="AuthorizationKey", value=password))
            status = str(result.status)
        if status == "Accepted":
            await self.offload(self.registry.store_password, station_id, password)
            self.stats["passwords.rotated"] += 1
        LOG.info("password rotation of %s: %s", station_id, status)
        return status

    async def rotate_requested(self) -> dict[str, str]:
        """Rotate every connected station an operator flagged (``evbill stations rotate-password``)."""
        if self.registry is None:
            return {}
        wanted = await self.offload(self.registry.rotations_requested)
        out: dict[str, str] = {}
        for station_id in wanted:
            if station_id in self.connected:
                try:
                    out[station_id] = await self.rotate_password(station_id)
                except Exception as exc:  # noqa: BLE001 - a timeout or CallError: retried at the next poll
                    out[station_id] = f"failed: {exc}"
        return out

    def reject(self, station_id: str, action: str, error: IngestError) -> PropertyConstraintViolationError:
        """Log and count a malformed message; the CallError goes back, the connection stays up."""
        self.stats["rejected"] += 1
        record = {"station_id": station_id, "action": action, "field": error.field, "reason": error.reason}
        self.rejections.append(record)
        LOG.warning("rejected %s from %s: %s: %s", action, station_id, error.field, error.reason)
        return PropertyConstraintViolationError(description=f"{error.field}: {error.reason}", details=record)

    async def emit(self, station_id: str, action: str, raw: dict[str, Any]) -> IngestOutcome:
        """Validate and send one event down the ingestion path."""
        try:
            event = parse_event(raw)
            outcome: IngestOutcome = await self.offload(self.sink.ingest, self.settings.tenant_id, event)
        except IngestError as exc:
            raise self.reject(station_id, action, exc) from exc
        self.stats[f"events.{outcome.status}"] += 1
        if event.type == "start" and outcome.status == "accepted":
            self.stats["sessions.started"] += 1
        if event.type == "end" and outcome.status == "accepted":
            self.stats["sessions.ended"] += 1
        return outcome

    async def recover(self, station_id: str, tx_id: str, session_id: str) -> TxState | None:
        """Transaction state after a CSMS restart: the stored session carries the meter start."""
        stored = await self.offload(self.sink.load_session, self.settings.tenant_id, session_id)
        if not stored:
            return None
        base = stored.get("meter_start_wh")
        state = TxState(session_id, None if base is None else Decimal(str(base)),
                        connector=stored.get("evse_id"), charging_ended_at=stored.get("charging_ended_at"))
        self.tx[(station_id, tx_id)] = state
        return state

    async def handle_connection(self, connection: ServerConnection) -> None:
        station_id = _station_from_path(connection.request.path if connection.request else "/")
        if connection.subprotocol == "ocpp1.6":
            point: ChargePoint16 | ChargePoint201 = Station16(station_id, connection, self)
        elif connection.subprotocol == "ocpp2.0.1":
            point = Station201(station_id, connection, self)
        else:
            await connection.close(code=1002, reason="use subprotocol ocpp1.6 or ocpp2.0.1")
            return
        self.connected[station_id] = point
        self.stats["connections"] += 1
        try:
            await point.start()
        except Exception as exc:  # noqa: BLE001 - a closed socket ends this station only
            LOG.info("station %s disconnected: %s", station_id, exc)
        finally:
            self.connected.pop(station_id, None)

    async def serve(self, host: str = "127.0.0.1", port: int = 9000, tls: ssl.SSLContext | None = None) -> Server:
        """One listener; ``tls`` makes it wss (profiles 2 and 3). ``evbill csms`` may run a plain and a TLS one."""
        return await serve(self.handle_connection, host, port, subprotocols=SUBPROTOCOLS, ssl=tls,
                           process_request=self.check_handshake, ping_interval=None, max_queue=64)


class _Counting:
    """Counts every inbound OCPP message for the bench figures."""

    csms: Csms

    async def route_message(self, raw_msg: str) -> None:
        self.csms.stats["messages"] += 1
        await super().route_message(raw_msg)  # type: ignore[misc]


def _station_from_path(path: str) -> str:
    return unquote(path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]) or "unknown"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _session_id(station_id: str, tx_id: str) -> str:
    return f"{station_id[:27]}-{tx_id}"[:64]


class Station16(_Counting, ChargePoint16):
    def __init__(self, station_id: str, connection: Any, csms: Csms) -> None:
        super().__init__(station_id, connection)
        self.csms = csms
        self.charging_ended: dict[int, str | None] = {}

    @on("BootNotification")
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        return result16.BootNotification(current_time=_now(), interval=self.csms.settings.heartbeat_interval,
                                         status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return result16.Heartbeat(current_time=_now())

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> Any:
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StatusNotification")
    def on_status(self, connector_id: int, error_code: str, status: str, timestamp: str | None = None,
                  **_: Any) -> Any:
        if status in IDLE_STATES:
            if self.charging_ended.get(connector_id) is None:
                self.charging_ended[connector_id] = timestamp or _now()
        elif status == "Charging":
            self.charging_ended[connector_id] = None
        return result16.StatusNotification()

    @on("StartTransaction")
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                       reservation_id: int | None = None) -> Any:
        key = f"{connector_id}:{timestamp}:{meter_start}"
        tx_id = self._tx_for(key)
        session_id = _session_id(self.id, str(tx_id))
        self.charging_ended[connector_id] = None
        session = {"start": timestamp, "station_id": self.id, "evse_id": str(connector_id),
                   "id_tag": id_tag, "meter_start_wh": str(meter_start), **self.csms.session_fields(self.id)}
        customer = self.csms.settings.token_customers.get(id_tag)
        if customer:
            session["customer_id"] = customer
        await self.csms.emit(self.id, "StartTransaction", {
            "event_id": f"ocpp16:{self.id}:start:{key}", "type": "start", "session_id": session_id,
            "timestamp": timestamp, "source": "ocpp16", "session": session,
            "meter_samples": [{"timestamp": timestamp, "energy_kwh": "0"}],
        })
        self.csms.tx[(self.id, str(tx_id))] = TxState(session_id, Decimal(meter_start), Decimal(0),
                                                      connector=str(connector_id))
        return result16.StartTransaction(transaction_id=tx_id, id_tag_info={"status": "Accepted"})

    def _tx_for(self, key: str) -> int:
        scoped, starts = f"{self.id}:{key}", self.csms._start16
        if scoped not in starts:
            starts[scoped] = next(self.csms._tx16)
            while len(starts) > 100_000:
                starts.popitem(last=False)
        return starts[scoped]

    async def _state(self, tx_id: int, action: str) -> TxState:
        state = self.csms.tx.get((self.id, str(tx_id)))
        if state is None:
            state = await self.csms.recover(self.id, str(tx_id), _session_id(self.id, str(tx_id)))
        if state is None:
            raise self.csms.reject(self.id, action, IngestError("transactionId", f"unknown transaction {tx_id}"))
        return state

    @on("MeterValues")
    async def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]],
                              transaction_id: int | None = None) -> Any:
        if transaction_id is None:  # not transaction-bound (e.g. clock-aligned station readings)
            return result16.MeterValues()
        state = await self._state(transaction_id, "MeterValues")
        try:
            samples, state.last_kwh = to_samples(readings(meter_value, "meterValue"), state.baseline_wh,
                                                 state.last_kwh)
        except IngestError as exc:
            raise self.csms.reject(self.id, "MeterValues", exc) from exc
        if samples:
            first = meter_value[0]["timestamp"]
            session: dict[str, Any] = {}
            ended = self.charging_ended.get(connector_id)
            if ended is not None:
                session["charging_ended_at"] = ended
            await self.csms.emit(self.id, "MeterValues", {
                "event_id": f"ocpp16:{self.id}:{transaction_id}:mv:{first}", "type": "update",
                "session_id": state.session_id, "timestamp": samples[-1]["timestamp"], "source": "ocpp16",
                "session": session, "meter_samples": samples,
            })
        return result16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, reason: str | None = None,
                      id_tag: str | None = None, transaction_data: list[dict[str, Any]] | None = None) -> Any:
        state = await self._state(transaction_id, "StopTransaction")
        try:
            found = readings(transaction_data, "transactionData")
            samples, last = to_samples(found, state.baseline_wh, state.last_kwh)
        except IngestError as exc:
            raise self.csms.reject(self.id, "StopTransaction", exc) from exc
        base = state.baseline_wh if state.baseline_wh is not None else Decimal(meter_stop)
        if Decimal(meter_stop) < base:
            # A register that ran backwards (meter reset or replaced) is a fault to look at, not 0 kWh: refused
            # like any reading that goes down, so it is in the rejections and the session stays open, unbilled.
            raise self.csms.reject(self.id, "StopTransaction", IngestError(
                "meterStop", f"{meter_stop} Wh is below meterStart {base} Wh: the energy register must not go "
                "down (meter reset or replaced?); the session stays open and is not billed"))
        total = (Decimal(meter_stop) - base) / Decimal(1000)
        end = _parse(timestamp)
        samples = [s for s in samples if _parse(s["timestamp"]) < end]
        samples.append({"timestamp": timestamp, "energy_kwh": str(total)})
        session: dict[str, Any] = {"end": timestamp, "energy_kwh": str(total), "stop_reason": reason}
        connector = int(state.connector) if state.connector and state.connector.isdigit() else None
        idle_since = self.charging_ended.pop(connector, None) if connector is not None else None
        if idle_since and _parse(idle_since) <= end:
            session["charging_ended_at"] = idle_since
        await self.csms.emit(self.id, "StopTransaction", {
            "event_id": f"ocpp16:{self.id}:{transaction_id}:stop", "type": "end",
            "session_id": state.session_id, "timestamp": timestamp, "source": "ocpp16",
            "session": session, "meter_samples": samples,
        })
        self.csms.tx.pop((self.id, str(transaction_id)), None)
        return result16.StopTransaction(id_tag_info={"status": "Accepted"} if id_tag else None)


class Station201(_Counting, ChargePoint201):
    def __init__(self, station_id: str, connection: Any, csms: Csms) -> None:
        super().__init__(station_id, connection)
        self.csms = csms

    @on("BootNotification")
    def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        return result201.BootNotification(current_time=_now(), interval=self.csms.settings.heartbeat_interval,
                                          status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return result201.Heartbeat(current_time=_now())

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return result201.StatusNotification()

    @on("MeterValues")
    def on_meter_values(self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any) -> Any:
        # Transaction meter values arrive in TransactionEvent(Updated) in 2.0.1; these are station readings.
        return result201.MeterValues()

    @on("TransactionEvent")
    async def on_transaction_event(self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int,
                                   transaction_info: dict[str, Any], meter_value: list[dict[str, Any]] | None = None,
                                   evse: dict[str, Any] | None = None, id_token: dict[str, Any] | None = None,
                                   offline: bool = False, **_: Any) -> Any:
        """Offline-queued messages (``offline: true``, replayed in order after a reconnect) take the same path:
        the event id is (station, transaction, seqNo), so a message the station sends again after a lost
        response is stored and billed once, and a seqNo at or below the last applied one never moves the
        transaction's meter state backwards."""
        tx_id = transaction_info["transaction_id"]
        session_id = _session_id(self.id, tx_id)
        try:
            found = readings(meter_value, "meterValue")
        except IngestError as exc:
            raise self.csms.reject(self.id, "TransactionEvent", exc) from exc
        state = self.csms.tx.get((self.id, tx_id))
        if state is None and event_type != "Started":
            state = await self.csms.recover(self.id, tx_id, session_id)
        kind = {"Started": "start", "Updated": "update", "Ended": "end"}[event_type]
        session: dict[str, Any] = {}
        if state is None:  # Started, or the first message we see of a transaction (offline start)
            baseline = next((r.register_wh for r in found if r.register_wh is not None), None)
            state = TxState(session_id, baseline, Decimal(0) if baseline is not None else None)
            self.csms.tx[(self.id, tx_id)] = state
            session.update({"start": timestamp, "station_id": self.id, **self.csms.session_fields(self.id)})
            if evse:
                session["evse_id"] = str(evse.get("id"))
            if baseline is not None:
                session["meter_start_wh"] = str(baseline)
            token = (id_token or {}).get("id_token")
            if token:
                session["id_tag"] = token
                customer = self.csms.settings.token_customers.get(token)
                if customer:
                    session["customer_id"] = customer
            if kind != "start":  # record the start first so the end has a session to close
                await self.csms.emit(self.id, "TransactionEvent", {
                    "event_id": f"ocpp201:{self.id}:{tx_id}:implicit-start", "type": "start",
                    "session_id": session_id, "timestamp": timestamp, "source": "ocpp201", "session": session})
                session = {}
        if state.baseline_wh is None:
            state.baseline_wh = next((r.register_wh for r in found if r.register_wh is not None), None)
        if seq_no <= state.last_seq:  # a replay: same event id as before, the sink answers it as a duplicate
            self.csms.stats["replays"] += 1
            samples = to_samples(found, state.baseline_wh, None)[0]
        else:
            samples, state.last_kwh = to_samples(found, state.baseline_wh, state.last_kwh)
            state.last_seq = seq_no
            charging_state = transaction_info.get("charging_state")
            if charging_state in IDLE_STATES and state.charging_ended_at is None:
                state.charging_ended_at = timestamp
                session["charging_ended_at"] = timestamp
            elif charging_state == "Charging" and state.charging_ended_at is not None:
                state.charging_ended_at = None
                session["charging_ended_at"] = None
        if kind == "end":
            session["end"] = timestamp
            session["stop_reason"] = transaction_info.get("stopped_reason")
            if state.last_kwh is not None:
                session["energy_kwh"] = str(state.last_kwh)
            if state.charging_ended_at is not None:
                session["charging_ended_at"] = state.charging_ended_at
        outcome = await self.csms.emit(self.id, "TransactionEvent", {
            "event_id": f"ocpp201:{self.id}:{tx_id}:{seq_no}", "type": kind, "session_id": session_id,
            "timestamp": timestamp, "source": "ocpp201", "session": session, "meter_samples": samples,
        })
        response: dict[str, Any] = {}
        if id_token is not None:
            response["id_token_info"] = {"status": "Accepted"}
        if kind == "end":
            self.csms.tx.pop((self.id, tx_id), None)
            if outcome.total_cost is not None:
                response["total_cost"] = float(outcome.total_cost)
        return result201.TransactionEvent(**response)

    @after("TransactionEvent")
    async def push_cost(self, event_type: str, timestamp: str, transaction_info: dict[str, Any],
                        offline: bool = False, **_: Any) -> None:
        """Interim cost → ``CostUpdated`` (runs after the response is sent, so it cannot deadlock). Not for
        offline-queued messages: their cost is history, the live one follows with the next online update."""
        settings = self.csms.settings
        if event_type != "Updated" or not settings.cost_updates or offline:
            return
        tx_id = transaction_info["transaction_id"]
        state = self.csms.tx.get((self.id, tx_id))
        if state is None or time.monotonic() - state.last_cost_push < settings.cost_update_interval:
            return
        state.last_cost_push = time.monotonic()
        as_of = _parse(timestamp)
        try:
            cost: Decimal | None = await self.csms.offload(
                self.csms.sink.interim_cost, settings.tenant_id, state.session_id, as_of)
            if cost is None:
                return
            await self.call(call201.CostUpdated(total_cost=float(cost), transaction_id=tx_id))
            self.csms.stats["cost_updates"] += 1
        except Exception as exc:  # noqa: BLE001 - a failed push must not end the station's stream
            self.csms.stats["cost_update_errors"] += 1
            LOG.warning("CostUpdated to %s for %s failed: %s", self.id, tx_id, exc)


async def run_csms(sink: SessionSink, host: str, port: int | None, settings: CsmsSettings | None = None,
                   registry: StationRegistry | None = None, tls: ssl.SSLContext | None = None,
                   tls_port: int | None = None, rotation_poll: float = 60.0) -> None:
    """Serve until cancelled (``evbill csms``): ws on ``port`` (profile 1), wss on ``tls_port`` (profiles 2, 3);
    every ``rotation_poll`` seconds, rotate the passwords operators asked for."""
    csms = Csms(sink, settings, registry)
    servers = []
    if port is not None:
        servers.append(await csms.serve(host, port))
        LOG.info("CSMS listening on ws://%s:%d/<station id> (ocpp1.6, ocpp2.0.1)", host, port)
    if tls is not None and tls_port is not None:
        servers.append(await csms.serve(host, tls_port, tls))
        LOG.info("CSMS listening on wss://%s:%d/<station id> (ocpp1.6, ocpp2.0.1)", host, tls_port)
    while True:
        await asyncio.sleep(rotation_poll)
        rotated = await csms.rotate_requested()
        if rotated:
            LOG.info("password rotations: %s", rotated)


__all__ = ["Csms", "CsmsSettings", "SessionEvent", "run_csms"]
