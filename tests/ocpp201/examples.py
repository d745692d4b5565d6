"""A valid request payload of every station-initiated OCPP 2.0.1 action."""

from __future__ import annotations

from typing import Any, Final

T = "2026-01-01T00:00:00Z"
_SCHEDULE: Final = {
    "id": 1,
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
}

VALID: Final[dict[str, dict[str, Any]]] = {
    "Authorize": {"idToken": {"idToken": "A", "type": "ISO14443"}},
    "BootNotification": {
        "reason": "PowerUp",
        "chargingStation": {"model": "M", "vendorName": "V"},
    },
    "ClearedChargingLimit": {"chargingLimitSource": "EMS"},
    "DataTransfer": {"vendorId": "v"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "Get15118EVCertificate": {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": "AA==",
    },
    "GetCertificateStatus": {
        "ocspRequestData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a",
            "issuerKeyHash": "b",
            "serialNumber": "c",
            "responderURL": "http://ocsp.example",
        }
    },
    "Heartbeat": {},
    "LogStatusNotification": {"status": "Idle"},
    "MeterValues": {
        "evseId": 1,
        "meterValue": [{"timestamp": T, "sampledValue": [{"value": 1.0}]}],
    },
    "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "EMS"}},
    "NotifyCustomerInformation": {"data": "d", "seqNo": 0, "generatedAt": T, "requestId": 1},
    "NotifyDisplayMessages": {"requestId": 1},
    "NotifyEVChargingNeeds": {
        "evseId": 1,
        "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"},
    },
    "NotifyEVChargingSchedule": {"timeBase": T, "evseId": 1, "chargingSchedule": _SCHEDULE},
    "NotifyEvent": {
        "generatedAt": T,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": T,
                "trigger": "Delta",
                "actualValue": "Faulted",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ],
    },
    "NotifyMonitoringReport": {"requestId": 1, "seqNo": 0, "generatedAt": T},
    "NotifyReport": {
        "requestId": 1,
        "generatedAt": T,
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "variableAttribute": [{"value": "300", "mutability": "ReadWrite"}],
                "variableCharacteristics": {
                    "dataType": "integer",
                    "unit": "s",
                    "supportsMonitoring": False,
                },
            }
        ],
    },
    "PublishFirmwareStatusNotification": {"status": "Idle"},
    "ReportChargingProfiles": {
        "requestId": 1,
        "chargingLimitSource": "CSO",
        "evseId": 1,
        "chargingProfile": [
            {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [_SCHEDULE],
            }
        ],
    },
    "ReservationStatusUpdate": {"reservationId": 1, "reservationUpdateStatus": "Expired"},
    "SecurityEventNotification": {"type": "SettingSystemTime", "timestamp": T},
    "SignCertificate": {"csr": "CSR"},
    "StatusNotification": {
        "timestamp": T,
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    },
    "TransactionEvent": {
        "eventType": "Started",
        "timestamp": T,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1", "chargingState": "EVConnected"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "A", "type": "ISO14443"},
    },
}
