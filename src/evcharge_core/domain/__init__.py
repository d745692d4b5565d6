"""The pure domain: model, rules and events. No I/O, no asyncio, no clock.

Submodules: :mod:`.values` (enums and parsers), :mod:`.model` (the aggregate),
:mod:`.power`, :mod:`.mapping`, :mod:`.status`, :mod:`.activation`, :mod:`.events`,
:mod:`.geo` (distances), :mod:`.qr` (QR code payloads), :mod:`.charger_map` (the map of
chargers).
"""
