"""OCPP 1.6J and 2.0.1 CSMS: charge points connect over websockets; transactions become Sessions."""
