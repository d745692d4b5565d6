"""OCPP 2.0.1 handling (sans-I/O). Built in the OCPP 2.0.1 gateway work."""
