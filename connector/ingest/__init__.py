"""Session capture: every source (OCPP, OCPI, ChargePoint, exports, serverless) → one SessionEvent →
``connector.billing.intake.ingest_session_event`` (see docs/ingest.md)."""
