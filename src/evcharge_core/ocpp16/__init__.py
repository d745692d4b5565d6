"""OCPP 1.6J handling (sans-I/O). Built in the OCPP 1.6J gateway work."""
