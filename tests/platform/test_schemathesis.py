"""Schemathesis against the live application: whatever it is sent, the API never answers 500,
every answer matches the schema its OpenAPI document declares, and every status it uses is
one the document lists.

The OpenAPI document is read from the running server (``/api/v1/openapi.json``), and every
operation in it is exercised, with nothing excluded, by an admin with a bearer token (who may
call everything) and by an anonymous caller. Schemathesis generates valid and invalid inputs;
half the time path parameters name things that exist (a real cohort, enrolment, certificate
code...) so that the answers past the 404 are checked too.

Examples are derandomised so CI is repeatable; set ``LEARNING_FUZZ_RANDOM=1`` to explore afresh,
and ``LEARNING_FUZZ_EXAMPLES`` to change how many examples each operation gets (default 25).
"""

from __future__ import annotations

import os
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from learning.extensions import db
from tests import factories
from tests.conftest import build_app, empty_tables
from tests.security_fixtures import build_world

EXAMPLES = int(os.environ.get("LEARNING_FUZZ_EXAMPLES", "25"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("LEARNING_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)

# Path parameters of the API, and which of the world's things each may name.
REAL_VALUES = {
    "cohort_id": "cohort_a", "user_id": "learner", "enrolment_id": "enrolment", "lesson_id": "lesson",
    "session_id": "session_a", "import_id": "import_a", "export_id": "export", "code": "certificate",
    "slug": "course", "list_number": "status_list", "year": "year",
}


@pytest.fixture(autouse=True)
def _clean_database():
    """The world lives for the whole module (the suite's cleanup is per test)."""
    yield


@pytest.fixture(scope="module")
def fuzz_server(app, base_config):
    """The application served over HTTP on loopback, as in production (CSRF on, no testing mode),
    over a world of people, cohorts, enrolments and certificates."""
    from werkzeug.serving import make_server

    with app.app_context():
        empty_tables()
        world = build_world()
    served = build_app(base_config, TESTING=False, WTF_CSRF_ENABLED=True,
                       CERTIFICATE_VERIFY_RATE_LIMIT="100000 per minute")
    server = make_server("127.0.0.1", 0, served, threaded=True)  # the kernel picks the port as it binds
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.port}"
    REAL.update(world.ids)
    yield server
    server.shutdown()
    with app.app_context():
        empty_tables()


@pytest.fixture
def admin_token(app, fuzz_server):
    """A fresh admin for each operation: erasing or demoting oneself must not spoil the next one."""
    with app.app_context():
        token = factories.token(factories.admin())
        db.session.remove()
    return token


def _served_document() -> dict:
    """The OpenAPI document as the application builds it (no database or network needed)."""
    from learning import create_app

    return create_app({"TESTING": True}).spec


# Loaded when the module is collected: schemathesis's lazy (fixture) loader does not work with
# this pytest. test_the_live_server_serves_the_document_under_test checks it is the served one.
DOCUMENT = _served_document()
# Every check Schemathesis has runs. A schema-valid request may still be refused with 422 where a
# rule of the business that no JSON Schema can state refuses it (a course that must exist, an end
# date after the start, a known country): positive data is accepted with 2xx, or refused with the
# usual 401/403/404/409/429, or with 422 naming the field. Anything else (a 400 for text the
# document allows, as NUL once was) fails.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
REAL: dict = {}  # the world's ids, filled by fuzz_server


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    named = {key: REAL[REAL_VALUES[key]] for key in path_parameters or {} if key in REAL_VALUES and REAL}
    if not named:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **named}])


# One test per operation, each with its own id (``test_...[GET /api/v1/me]``), with Hypothesis
# inside: schemathesis's own ``parametrize`` gives every operation the same node id, so under
# xdist most of them were never reported.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, base_url: str, headers: dict | None = None) -> None:
    """Valid and invalid cases of one operation, each sent and checked with every check. The
    credentials are part of each case (not added when sending), so that a case made invalid by
    dropping them is not sent with them and then judged as invalid data accepted."""
    cases = st.one_of(*(operation.as_strategy(mode, headers=headers)
                        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))

    @FUZZ_SETTINGS
    @given(case=cases)
    def call(case):
        case.call_and_validate(base_url=base_url)

    call()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_the_api_holds_its_contract_for_an_admin(operation, fuzz_server, admin_token):
    _fuzz(operation, fuzz_server.url, {"Authorization": f"Bearer {admin_token}"})


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_the_api_holds_its_contract_for_an_anonymous_caller(operation, fuzz_server):
    _fuzz(operation, fuzz_server.url)


def test_the_live_server_serves_the_document_under_test(fuzz_server):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{fuzz_server.url}/api/v1/openapi.json") as response:
        served = json.loads(response.read())
    served.pop("servers", None)  # the server names its own address
    assert served == json.loads(json.dumps(DOCUMENT))


def test_the_openapi_document_covers_every_api_route(app):
    """Every /api/v1 route is in the document, so the fuzzing above reaches all of them."""
    import re

    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api_")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set()


# --- what the fuzzing found, kept as plain examples --------------------------------------------------

HUGE = 10 ** 30  # beyond any database integer


@pytest.mark.parametrize("path", [
    f"/api/v1/cohorts/{HUGE}", f"/api/v1/cohorts/{HUGE}/sessions", f"/api/v1/cohorts/{HUGE}/roster.csv",
    f"/api/v1/cohorts/1/sessions/{HUGE}/attendance", f"/api/v1/enrolments/{HUGE}", f"/api/v1/impact/{HUGE}",
    f"/api/v1/reports/exports/{HUGE}", f"/api/v1/status-lists/{HUGE}", f"/cohorts/{HUGE}", f"/learning/{HUGE}",
])
def test_an_id_too_large_for_the_database_is_not_found_rather_than_a_server_error(api, make, path):
    response = api.as_user(make.admin()).get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", "/api/v1/cohorts/9999999999"), ("POST", "/api/v1/cohorts/2305843009213693951/sessions"),
    ("PUT", "/api/v1/cohorts/68719476735/sessions/1/attendance"), ("POST", "/api/v1/users/9999999999/erase"),
])
def test_a_write_to_an_id_too_large_for_the_database_is_not_found_either(api, make, method, path):
    """Not 405: every method of such an address answers alike."""
    response = api.as_user(make.admin()).request(method, path, json={})
    assert response.status_code == 404


def test_a_status_list_beyond_any_certificate_is_not_found(api, app_context):
    assert api.get("/api/v1/status-lists/25211").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/cohorts", "/api/v1/me/enrolments", "/api/v1/me/certificates",
                                  "/api/v1/courses", "/api/v1/audit"])
def test_a_page_number_too_large_is_refused_naming_the_field(api, make, path):
    response = api.as_user(make.admin()).get(f"{path}?page={HUGE}")
    assert response.status_code == 422
    assert "page" in response.get_json()["error"]["fields"]


def test_cohort_numbers_too_large_are_refused_naming_the_field_and_change_nothing(api, make):
    from tests import factories_cohorts

    admin = make.admin()
    cohort = factories_cohorts.cohort()
    client = api.as_user(admin)
    patched = client.patch(f"/api/v1/cohorts/{cohort.id}", json={"trainers": [HUGE], "capacity": HUGE})
    assert patched.status_code == 422
    assert {"trainers.0", "capacity"} <= set(patched.get_json()["error"]["fields"])
    session = factories_cohorts.session(cohort)
    attendance = client.request("PUT", f"/api/v1/cohorts/{cohort.id}/sessions/{session.id}/attendance",
                                json={"present": [HUGE]})
    assert attendance.status_code == 422
    assert client.get(f"/api/v1/cohorts/{cohort.id}").get_json()["capacity"] is None


NUL_REQUESTS = [
    ("POST", "/api/v1/auth/tokens", {"email": "a\x00@example.org", "password": "x"}),
    ("PATCH", "/api/v1/me", {"full_name": "Ana\x00"}),
    ("POST", "/api/v1/cohorts", {"course": "a\x00", "name": "x", "country": "CO", "delivery": "online",
                                 "starts_on": "2025-01-01", "ends_on": "2025-01-02"}),
    ("GET", "/api/v1/courses?q=a%00b", None),
    ("GET", "/api/v1/courses/a%00b", None),
    ("GET", "/api/v1/audit?actor=a%00b", None),
    ("GET", "/api/v1/reports/summary?organisation=a%00b", None),
    ("GET", "/courses/?q=a%00b", None),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS, ids=[f"{m} {p}" for m, p, _b in NUL_REQUESTS])
def test_text_with_a_nul_character_is_refused_as_a_bad_request(api, make, method, path, body):
    """PostgreSQL cannot store or compare text with NUL characters; they are refused at the door."""
    admin = make.admin(full_name="Ada Admin")
    response = api.as_user(admin).request(method, path, json=body)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "bad_request"
    db.session.refresh(admin)
    assert admin.full_name == "Ada Admin"


def test_an_address_longer_than_any_e_mail_gets_the_usual_wrong_credentials_answer(api):
    response = api.post("/api/v1/auth/tokens", json={"email": "x" * 3000 + "@example.org", "password": "x"})
    assert response.status_code == 401


# --- the document says what the server does (found by running every check) --------------------------

def _operation(app, path: str, method: str) -> dict:
    return app.test_client().get("/api/v1/openapi.json").get_json()["paths"][path][method]


@pytest.mark.parametrize(("path", "method"), [("/api/v1/auth/tokens", "post"), ("/api/v1/users", "post"),
                                              ("/api/v1/certificates/{code}", "get")])
def test_rate_limited_calls_document_429(app, path, method):
    assert "429" in _operation(app, path, method)["responses"]


def test_an_export_download_is_documented_as_the_csv_or_xlsx_it_is(app):
    content = _operation(app, "/api/v1/reports/exports/{export_id}/download", "get")["responses"]["200"]["content"]
    assert set(content) == {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def test_free_text_is_documented_without_nul_and_required_bodies_as_required(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    token_request = document["components"]["schemas"]["TokenRequestSchema"]["properties"]
    assert token_request["email"]["pattern"] == "^[^\\x00]*$"
    assert _operation(app, "/api/v1/auth/tokens", "post")["requestBody"]["required"] is True


@pytest.mark.parametrize("query", ["to=", "from=", "from=2025-01-01&to="])
def test_a_blank_date_filter_is_refused_by_the_api_as_its_document_says(api, make, query):
    response = api.as_user(make.admin()).get(f"/api/v1/reports/summary?{query}")
    assert response.status_code == 422
    assert {name for name in ("from", "to") if f"{name}=&" in f"{query}&"} <= set(response.get_json()["error"]["fields"])


def test_the_dashboard_form_still_treats_blank_dates_as_any(app, client, make):
    from tests.security_fixtures import sign_in

    sign_in(client, make.admin().email)
    assert client.get("/reports/?from=&to=&country=").status_code == 200


def test_a_nul_character_in_a_key_is_judged_by_the_rules_for_that_key(api, make):
    """OpenAPI 3.0 cannot forbid NUL in a map's keys, so keys are validated where they are used."""
    admin = make.admin()
    response = api.as_user(admin).post("/api/v1/courses", json={**make.course_data(), "translations": {
        "e\x00s": {"title": "Curso", "summary": ""}}})
    assert response.status_code == 422
    assert any(field.startswith("translations.") for field in response.get_json()["error"]["fields"])


def test_text_under_a_key_no_schema_names_is_not_read_so_not_refused(api, make):
    """A body may carry keys the document does not name (the services ignore them); the document
    cannot promise their values free of NUL, so a NUL there is no reason to refuse the request.
    Schemathesis found it: a course PATCH whose quiz held an unknown key with a NUL inside."""
    admin = make.admin()
    course = make.course()
    response = api.as_user(admin).patch(f"/api/v1/courses/{course.slug}",
                                        json={"title": "Renamed", "extra": {"note": "a\x00b"}})
    assert response.status_code == 200
    assert response.get_json()["title"] == "Renamed"
    nested = api.as_user(admin).patch(f"/api/v1/courses/{course.slug}",
                                      json={"title": "Again\x00"})
    assert nested.status_code == 400
