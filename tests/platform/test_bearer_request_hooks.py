"""What the per-request hooks still do for an API call with a bearer token, now that they skip the
work that does nothing for it (docs/PERFORMANCE.md, "hotpath4"): the session's person is not loaded
(the token decides who calls), Flask's cookie session builds nothing without a cookie, and yet the
answer carries every security header and its request id, is counted in the metrics, and never sets a
cookie, while a request that does come through the session is served as before."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.platform.test_security_headers import STRICT_CSP

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy",
                    "Cross-Origin-Opener-Policy", "Content-Security-Policy")


def _requests_counted(endpoint: str, status: str) -> float:
    return REGISTRY.get_sample_value("learning_http_requests_total",
                                     {"method": "POST", "endpoint": endpoint, "status": status}) or 0.0


def _fresh():
    """Forget the person an earlier request left in ``g``: the test's app context outlives requests
    (each request's would not), and Flask-Login would take them from there instead of loading."""
    from flask import g

    g.pop("_login_user", None)


def _count_session_loads(app, monkeypatch) -> list:
    loads = []
    loader = app.login_manager._user_callback

    def counted(session_id):
        loads.append(session_id)
        return loader(session_id)
    monkeypatch.setattr(app.login_manager, "_user_callback", counted)
    return loads


def test_a_bearer_call_gets_every_header_is_counted_and_sets_no_cookie(api, make, app, monkeypatch):
    slug = make.course().slug
    client = api.as_user(make.user())
    loads = _count_session_loads(app, monkeypatch)
    _fresh()
    before = _requests_counted("api_enrolment.enrol", "201")
    response = client.post(f"/api/v1/courses/{slug}/enrolments", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 201
    for name in SECURITY_HEADERS:
        assert response.headers.get(name), name
    assert response.headers["Content-Security-Policy"] == STRICT_CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert len(response.headers.getlist("X-Content-Type-Options")) == 1  # added once, not again
    assert response.headers["X-Request-ID"] == "abc-123"
    assert "Set-Cookie" not in response.headers
    assert _requests_counted("api_enrolment.enrol", "201") == before + 1
    enrolment_id = response.get_json()["id"]
    refused = client.post(f"/api/v1/courses/{slug}/enrolments")
    assert refused.status_code == 409 and "Set-Cookie" not in refused.headers
    assert refused.headers["Content-Security-Policy"] == STRICT_CSP
    assert _requests_counted("api_enrolment.enrol", "409") >= 1
    assert client.get(f"/api/v1/enrolments/{enrolment_id}").status_code == 200
    assert loads == []  # no cookie came: nobody to load


def test_a_bearer_call_from_a_signed_in_browser_is_the_tokens_and_leaves_the_session_alone(
        api, make, app, sign_in, monkeypatch):
    page_user, token_user = make.user(), make.user()
    browser = sign_in(page_user)  # the same test client: its session cookie goes with every request
    loads = _count_session_loads(app, monkeypatch)
    caller = api.as_user(token_user)
    _fresh()
    response = caller.get("/api/v1/me")
    assert response.status_code == 200 and response.get_json()["id"] == token_user.id
    assert "Set-Cookie" not in response.headers
    assert loads == []  # the token decided; the session's person was not loaded for nothing
    # Without the bearer token the same cookie is the page user's, as before.
    _fresh()
    assert browser.get("/api/v1/me").get_json()["id"] == page_user.id
    assert len(loads) == 1
    _fresh()
    assert browser.get("/account/profile").status_code == 200 and len(loads) == 2


def test_a_wrong_bearer_token_is_refused_even_with_a_session_cookie(api, make, sign_in):
    sign_in(make.user())
    _fresh()
    response = api.client.get("/api/v1/me", headers={"Authorization": "Bearer lp_not-a-token"})
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert response.headers["Content-Security-Policy"] == STRICT_CSP


def test_without_a_cookie_no_session_is_built_and_none_is_sent_until_one_is_needed(app, make, client):
    from tests.factories import PASSWORD

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    user = make.user()
    signed_in = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302 and any(c.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
                                                 for c in signed_in.headers.getlist("Set-Cookie"))
    assert client.get("/account/profile").status_code == 200  # the cookie set is read back


def test_vary_cookie_as_flask_adds_it_and_the_language_of_the_address_still_counts(api, make, client):
    """Helper "hotauth": the empty session's "Vary: Cookie" is written without Flask's cookie settings and
    header parsing, and the hooks skip the query's parsing when there is no query; what the answers say is
    unchanged: "Vary: Cookie" once (joined to a "Vary" the answer has already), ``?lang=`` remembered."""
    slug = make.course().slug
    caller = api.as_user(make.user())
    _fresh()
    answer = caller.post(f"/api/v1/courses/{slug}/enrolments")
    assert answer.status_code == 201 and answer.headers.getlist("Vary") == ["Accept-Encoding, Cookie"]
    assert "Set-Cookie" not in answer.headers
    big = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert big.status_code == 200 and big.headers["Content-Encoding"] == "gzip"
    assert big.headers.getlist("Vary") == ["Accept-Encoding, Cookie"]
    from flask import Flask, session

    from learning.security import CookieSessionInterface

    bare = Flask(__name__)
    bare.secret_key = "x"
    bare.session_interface = CookieSessionInterface()

    @bare.get("/<vary>")
    def looked_at(vary):
        session.get("anything")
        return "", 200, ({"Vary": vary} if vary != "none" else {})
    for vary, expected in (("none", ["Cookie"]), ("Origin", ["Origin, Cookie"]), ("Cookie", ["Cookie"]),
                           ("origin, cookie", ["origin, cookie"])):
        assert bare.test_client().get(f"/{vary}").headers.getlist("Vary") == expected, vary
    remembered = caller.get("/api/v1/me?lang=fr")
    assert remembered.status_code == 200 and "lang=fr" in remembered.headers.get("Set-Cookie", "")
    refused = caller.get("/api/v1/me?note=a%00b")
    assert refused.status_code == 400
    assert caller.post(f"/api/v1/courses/{slug}/enrolments", json={"note": "a\x00b"}).status_code == 400


def test_flask_is_told_once_that_a_plain_function_is_synchronous():
    """Helper "hotauth": ``ensure_sync``'s answer for a plain function is kept; an ``async def``, a bound
    method and an unhashable callable are asked about every time (and an async one still wrapped)."""
    from flask import Flask

    from learning import remember_sync_functions

    app = Flask(__name__)
    asked = []

    def ask(func):
        asked.append(func)
        return func if not getattr(func, "is_async", False) else (lambda: "wrapped")
    app.ensure_sync = ask
    remember_sync_functions(app, limit=2)

    def plain():
        return 1

    async def coroutine():
        return 2
    coroutine.is_async = True

    class Unhashable:
        __hash__ = None

        def __call__(self):
            return 3
    odd, other, third = Unhashable(), (lambda: 4), (lambda: 5)
    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    assert app.ensure_sync(coroutine)() == "wrapped" and app.ensure_sync(coroutine)() == "wrapped"
    assert app.ensure_sync(odd) is odd and app.ensure_sync(odd) is odd
    method = Flask.__init__.__get__(app)
    app.ensure_sync(method), app.ensure_sync(method)
    for func in (other, third, third):  # the limit (2) is reached with ``other``: ``third`` is asked each time
        app.ensure_sync(func)
    assert asked.count(plain) == 1 and asked.count(coroutine) == 2 and asked.count(odd) == 2
    assert asked.count(method) == 2 and asked.count(other) == 1 and asked.count(third) == 2


def test_the_session_cookie_is_read_with_other_cookies_and_none_is_parsed_without_a_cookie_header(app, make,
                                                                                                    client):
    """Helper "hotpath7": a request without any Cookie header opens an empty session without parsing
    cookies; a Cookie header without the session's cookie is the same empty session; the session's cookie
    among others is read as before (signed in), and a tampered one is an empty session."""
    from flask import Flask, session

    from learning.security import CookieSessionInterface
    from tests.factories import PASSWORD

    bare = Flask(__name__)
    bare.secret_key = "x"
    bare.session_interface = CookieSessionInterface()
    parsed = []

    @bare.get("/")
    def show():
        from flask import request

        parsed.append("_cookies" in request.__dict__ or "cookies" in request.__dict__)
        return {"n": session.get("n")}

    @bare.post("/")
    def put():
        session["n"] = 7
        return {}

    plain = bare.test_client(use_cookies=False)
    assert plain.get("/").get_json() == {"n": None} and parsed == [False]
    assert plain.get("/", headers={"Cookie": "lang=fr"}).get_json() == {"n": None}
    cookie = bare.test_client().post("/").headers["Set-Cookie"].split(";")[0]
    assert plain.get("/", headers={"Cookie": f"lang=fr; {cookie}"}).get_json() == {"n": 7}
    assert plain.get("/", headers={"Cookie": cookie[:-2] + "xx"}).get_json() == {"n": None}
    user = make.user()
    client.set_cookie("lang", "es")
    assert client.post("/account/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    assert client.get("/account/profile").status_code == 200


def test_the_request_id_comes_from_the_header_or_is_made_and_every_answer_is_counted(api, make):
    """Helper "hotpath7": the hooks read the request id from the WSGI environ and the context once; a valid
    incoming id is echoed, a too long or unprintable one replaced by a new one, each answer counted."""
    slug = make.course().slug
    caller = api.as_user(make.user())
    before = _requests_counted("api_enrolment.enrol", "201")
    echoed = caller.post(f"/api/v1/courses/{slug}/enrolments", headers={"X-Request-ID": "id-7"})
    assert echoed.status_code == 201 and echoed.headers["X-Request-ID"] == "id-7"
    for bad in ("x" * 65, "a\tb"):
        made = caller.get("/api/v1/me", headers={"X-Request-ID": bad})
        assert made.status_code == 200 and len(made.headers["X-Request-ID"]) == 32 and made.headers["X-Request-ID"] != bad
    assert _requests_counted("api_enrolment.enrol", "201") == before + 1
    for name in SECURITY_HEADERS:
        assert echoed.headers.get(name), name
