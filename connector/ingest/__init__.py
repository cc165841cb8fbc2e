"""Session capture: every source (OCPP, OCPI, ChargePoint, exports, serverless) → one SessionEvent →
``connector.ingest.pipeline.ingest_session_event`` (see docs/ingest.md)."""
