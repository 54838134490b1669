from __future__ import annotations
import pytest, random
import schemathesis
from hypothesis import given, settings, HealthCheck, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance, content_type_conformance
from chalicelib.services import current_services
from beian.client import BeianClient
from beian.synthetic import filing_payload

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_explore(live_server, mode):
    schema = schemathesis.openapi.from_url(f"{live_server}/api/openapi.json")
    s = current_services()
    tokens = {r: s.auth.issue(f"{r}-f", r, provider=s.settings.provider, province=s.settings.province) for r in ("verifier","admin","compliance_officer","inspector")}
    filing, token = BeianClient(live_server).submit(filing_payload(random.Random(1)))
    tokens["applicant"] = token
    failures = []
    @given(case=schema.as_strategy(generation_mode=mode), role=st.sampled_from(sorted(tokens)))
    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case, role):
        try:
            case.call_and_validate(base_url=f"{live_server}/api", headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)
        except Exception as e:
            failures.append((case.method, case.path, str(e)[:600]))
    run()
    seen = {}
    for f in failures:
        seen.setdefault((f[0], f[1], f[2][:150]), f)
    for f in seen.values():
        print("FAIL", f)
    print(len(failures))
