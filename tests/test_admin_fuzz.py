"""The admin API fuzzed from its own OpenAPI document (schemathesis): whatever a client
sends that the document allows, or breaks, the API answers without a 5xx, with a status code
the document lists for the operation, in the documented content type, and with a body that
matches the documented schema.

The app runs in-process (ASGI) over an in-memory repository seeded with the demo data, so
that path parameters can hit real stations, chargers, areas and id tokens. Live commands
have no gateway here: they answer 409 "not connected", which the document lists. Examples
per operation are bounded (:data:`EXAMPLES`) to keep the suite's run time reasonable.
"""

from __future__ import annotations

import asyncio
import warnings

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.admin import create_app
from evcharge_core.charging import ChargingService
from evcharge_core.demo import seed_demo
from evcharge_core.service import StationService

TOKEN = "fuzz-token"
EXAMPLES = 10


def _app() -> object:
    repository = InMemoryRepository()
    service = StationService(repository, websocket_base_url="ws://csms.test/ocpp/")
    charging = ChargingService(repository)
    asyncio.run(seed_demo(service, charging))
    return create_app(service, token=TOKEN, charging=charging)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", _app(), headers={"Authorization": f"Bearer {TOKEN}"}
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_admin_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.response_headers_conformance,
        ],
    )
