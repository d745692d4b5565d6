"""Adapters behind the ports of :mod:`evcharge_core.ports`: storage and transport."""
