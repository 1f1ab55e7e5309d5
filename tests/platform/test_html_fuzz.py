"""Fuzzing every page: whatever query string or form it is sent, by whom, no page answers 500.

The routes are enumerated from ``app.url_map`` (everything outside ``/api/``, which
``test_schemathesis.py`` fuzzes against its OpenAPI document), so a new page is fuzzed without
anyone adding it here. Each route and method is called as four people (anonymous, a learner who
is a member of a cohort, that cohort's trainer, an admin) with path parameters naming real things
of a shared world, so that the hostile input gets past the 404 and reaches the view's parsing.

Hypothesis draws the input: known parameter names (``page``, ``next``, ``cohort``, ``until``...) and
arbitrary ones, with values made to break parsers (non-ASCII digits, numbers beyond any column,
dates past the calendar, tabs and CR/LF, NUL, JSON nested deep, malformed percent-encoding),
as query strings, url-encoded forms and multipart forms with files.

Examples are derandomised (repeatable in CI); ``LEARNING_FUZZ_RANDOM=1`` explores afresh and
``LEARNING_FUZZ_HTML_EXAMPLES`` sets how many random examples each route and person get (default 6,
after one example of each class of input that once answered 500, ``CLASSES``).
"""

from __future__ import annotations

import io
import os
import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from learning import create_app
from tests.security_fixtures import module_world, sign_in

ROLES = ("anonymous", "learner", "trainer", "admin")
EXAMPLES = int(os.environ.get("LEARNING_FUZZ_HTML_EXAMPLES", "6"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("LEARNING_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# Path parameters, and which of the world's things each names (anything else gets a plain value).
REAL_VALUES = {
    "cohort_id": "cohort_a", "user_id": "learner", "enrolment_id": "enrolment", "lesson_id": "lesson",
    "session_id": "session_a", "import_id": "import_a", "export_id": "export", "code": "certificate",
    "slug": "course", "year": "year", "token": "unsubscribe", "organisation_id": "org_a",
    "request_id": "join_request",
}
FALLBACK = {"int": "1", "path": "css/app.css"}


def _html_routes() -> list[tuple[str, str]]:
    """Every (rule, method) outside the API, as the application registers them."""
    app = create_app({"TESTING": True, "SECRET_KEY": "collection-only-secret-key-0123456789"})
    return sorted({(rule.rule, method) for rule in app.url_map.iter_rules()
                   if not rule.rule.startswith("/api/")
                   for method in rule.methods - {"HEAD", "OPTIONS"}})


ROUTES = _html_routes()

# --- what is sent ------------------------------------------------------------------------------------

NAMES = [
    "page", "per_page", "next", "q", "lang", "language", "sector", "country", "status", "code", "cohort", "course",
    "organisation", "from", "to", "since", "until", "actor", "action", "target_type", "target_id", "group_by",
    "format", "mode", "email", "password", "confirm", "full_name", "name", "title", "summary", "slug", "date",
    "time", "present", "reason", "definition", "starts_on", "ends_on", "capacity", "attendance_rule",
    "attendance_min_percent", "trainers", "delivery", "remember", "timezone", "reminders_enabled", "answers",
    "pass_mark", "certificate_validity_months", "estimated_minutes", "sectors", "modules", "quiz", "place",
    "notes", "file", "organisation_id",
    # LTI 1.3 login initiation, launch and deep linking (``/lti/...``).
    "iss", "client_id", "login_hint", "lti_message_hint", "target_link_uri", "lti_deployment_id", "id_token", "state",
    "ticket",
]
HOSTILE = [
    "²", "٣", "١٢", "-1", "0", "99999999999999999999", "2147483648", "-9223372036854775809", "1e308", "NaN",
    "9999-12-31", "0001-01-01", "2025-02-30", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
    "23:59", "24:00", "/%09/evil.example", "/\t/evil.example", "//evil.example", "/\\evil.example",
    "\r\nSet-Cookie: x=y", "a\x00b", "\x00", "'; DROP TABLE users; --", "<script>alert(1)</script>",
    "{{7*7}}", "%s%s%s", "../../etc/passwd", "[" * 2000 + "]" * 2000, '{"a": "\\ud800"}', '{"title": ' * 500,
    "x" * 5000, "\u202e\u0645\u0631\u062d\u0628\u0627", "\U0001F600", "true", "null", "[]", "{}", "",
    "admin@demo.learning", "ZZ", "xx-XX", "Etc/GMT+12", "all_or_nothing", "partial",
]
# Pieces appended to the query string as they are: malformed percent-encoding and odd separators.
RAW_QUERY = ["", "%", "%ff%fe", "page=%C2%B2", "page=%EF%BC%91", "next=/%09/evil.example", "next=%0d%0a",
             "a[]=1&a[]=2", ";;", "=&=&", "page=1&page=99999999999999999999", "%00=%00"]

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
values = st.one_of(st.sampled_from(HOSTILE), text, st.integers(min_value=-(10**30), max_value=10**30).map(str))
fields = st.dictionaries(st.one_of(st.sampled_from(NAMES), text), st.one_of(values, st.lists(values, max_size=3)),
                         max_size=6)
# Half the time every known name carries the same hostile value, so each parser of a page meets it.
inputs = st.one_of(fields, st.builds(lambda value, extra: {**dict.fromkeys(NAMES, value), **extra},
                                     st.sampled_from(HOSTILE) | values, fields))
upload = st.tuples(st.binary(max_size=300) | st.sampled_from([b"\xef\xbb\xbfemail;full_name\n\xff\xfe;\x00\n",
                                                              b"email,full_name,country,sector\n" * 50]),
                   st.sampled_from(["roster.csv", "../x.csv", "a\x00.csv", ""]))


def _pairs(mapping: dict) -> list[tuple[str, str]]:
    return [(key, item) for key, value in mapping.items() for item in (value if isinstance(value, list) else [value])]


def _query(mapping: dict, raw: str) -> str:
    encoded = urlencode(_pairs(mapping))
    return "&".join(part for part in (raw, encoded) if part)  # a page reads the first of repeated names


# One example of each class of input that once answered 500, tried on every page before the random ones.
CLASSES = ["²", "99999999999999999999", "-1", "9999-12-31", "9999-12-31T23:59:59-12:00", "/\t/evil.example",
           "/\r\nSet-Cookie: x=y", "[" * 2000 + "]" * 2000]


def with_each_class(test):
    for value in reversed(CLASSES):
        saturated = dict.fromkeys(NAMES, value)
        test = example(query=saturated, raw="", form=saturated, files=None, multipart=False)(test)
    return test


# --- the world ---------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _clean_database():
    """The world lives for the whole module (the suite's cleanup is per test)."""
    yield


@pytest.fixture(scope="module")
def world(app):
    with module_world(app) as built:
        yield built


# The admins' actions on a person (disable, erase...) aim at someone no test here signs in as, so that
# fuzzing them as an admin cannot lock out the learner the other cases sign in as.
ADMIN_TARGET = ("/admin/users/", "other_learner")


def _path(rule: str, ids: dict) -> str:
    def fill(match: re.Match) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if name == "user_id" and rule.startswith(ADMIN_TARGET[0]) and ADMIN_TARGET[1] in ids:
            return str(ids[ADMIN_TARGET[1]])
        if name in REAL_VALUES and REAL_VALUES[name] in ids:
            return str(ids[REAL_VALUES[name]])
        if converter.startswith("any("):  # one of the values the route names: the first
            return converter[4:].split(",")[0].split(")")[0].strip()
        return FALLBACK.get(converter.rstrip(":"), "x")

    return re.sub(r"<(\w+(?:\([^)]*\))?:)?(\w+)>", fill, rule)


CASES = [pytest.param(rule, method, role, id=f"{method} {rule} as {role}") for rule, method in ROUTES for role in ROLES]


@pytest.mark.parametrize(("rule", "method", "role"), CASES)
def test_no_page_answers_500_to_hostile_input(app, world, rule, method, role):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, world.emails[role])
    path = _path(rule, world.ids)

    @FUZZ_SETTINGS
    @with_each_class
    @given(query=inputs, raw=st.sampled_from(RAW_QUERY), form=inputs, files=st.none() | upload,
           multipart=st.booleans())
    def hostile(query, raw, form, files, multipart):
        kwargs: dict = {"method": method, "headers": {"Accept": "text/html"},
                        "query_string": _query(query, raw)}
        if method != "GET":
            data = MultiDict(_pairs(form))
            if multipart or files is not None:
                if files is not None:
                    data.add("file", (io.BytesIO(files[0]), files[1]))
                kwargs["content_type"] = "multipart/form-data"
            kwargs["data"] = data
        response = client.open(path, **kwargs)
        body = response.get_data()[:300]
        response.close()
        assert response.status_code < 500, f"{method} {path}?{kwargs['query_string'][:300]} as {role}: " \
                                           f"{response.status_code} {body!r}"

    hostile()


def test_every_page_is_fuzzed(app):
    """The routes fuzzed are the application's, as served (not a list kept by hand)."""
    served = {(rule.rule, method) for rule in app.url_map.iter_rules() if not rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == set(ROUTES)
