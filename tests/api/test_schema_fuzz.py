"""Schemathesis against the app's own OpenAPI schema: no request built from the schema gets a 5xx.

Every operation gets a few generated requests (bounded and derandomised, so the suite stays within
CI's budget and a failure reproduces) with an admin API key, so the handlers themselves run, not
only the authentication layer. Operations that start long work in the request or stream forever
are exercised by their own tests instead.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from core.settings import Settings
from tests.helpers import auth_headers

#: streaming or long-running operations: covered by their own tests
SKIPPED = r"(/stream$|/eval/|/intents$|/knowledge/documents$)"
EXAMPLES = 4


def test_no_generated_request_gets_a_server_error(runtime_any_db: Settings) -> None:
    from api.app import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime_any_db)).exclude(path_regex=SKIPPED)
    errors: set[str] = set()
    loaded = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in loaded)  # the schema itself is valid
    operations = [result.ok() for result in loaded if isinstance(result, Ok)]
    assert len(operations) > 100  # the whole API, not an empty schema

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            # a fresh key each time: a generated DELETE /apikeys/{id} may revoke the previous one, and
            # generated credentials would only ever test the 401
            case.headers.update(auth_headers("admin"))
            where = f"{case.method} {case.operation.path}"
            try:
                response = case.call()
            except Exception as exc:  # the test client re-raises what the app did not handle
                errors.add(f"{where}: {type(exc).__name__}: {str(exc)[:160]}")
                return
            if response.status_code >= 500:
                errors.add(f"{where}: {response.status_code} {response.text[:160]}")

        no_server_error()
    assert not errors, "\n".join(sorted(errors))
