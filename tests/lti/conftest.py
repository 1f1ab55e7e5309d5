"""Fixtures of the LTI tests: a real platform on loopback (tests/lti_platform.py) registered with the tool,
and a helper that goes through login → the platform's authentication → launch, as a browser would."""

from __future__ import annotations

import pytest
import requests

from learning.accounts.models import Organisation
from learning.extensions import db
from learning.lti import launch as lti_launch
from learning.lti import services
from tests.lti_platform import INSTRUCTOR, LEARNER, LtiPlatform, form_of, path_of

LAUNCH_URL = "http://localhost/lti/launch"
DEEP_LINKING_URL = "http://localhost/lti/deep-linking"


@pytest.fixture(scope="module")
def lms():
    platform = LtiPlatform()
    platform.users["ana"] = {"sub": "moodle-user-17", "name": "Ana Gómez", "given_name": "Ana",
                             "family_name": "Gómez", "email": "ana@academia.example", "roles": [LEARNER]}
    platform.users["teo"] = {"sub": "moodle-user-3", "name": "Teo Ruiz", "email": "teo@academia.example",
                             "roles": [INSTRUCTOR], "locale": "es-CO"}
    platform.users["anon"] = {"sub": "moodle-user-99", "roles": [LEARNER]}
    platform.redirect_uris += [LAUNCH_URL, DEEP_LINKING_URL]
    yield platform
    platform.stop()


@pytest.fixture
def registered(app, app_context, client, lms, monkeypatch):
    """The platform registered here, as an admin would, for the police academy."""
    monkeypatch.setitem(app.config, "LTI_ALLOW_HTTP", True)
    lti_launch._jwks_cache.clear()
    lms.reset()
    lms.tool_jwks = lambda: client.get("/lti/jwks").get_json()
    org = Organisation(name="Academia de Policía", country="CO", sector="law_enforcement")
    db.session.add(org)
    platform = services.create_platform(**{**lms.registration, "name": "Academia Moodle"}, organisation=org)
    db.session.commit()
    return platform


def start(client, lms, user: str, message: dict, target: str = LAUNCH_URL, method: str = "post"):
    """The login initiation and the platform's answer: the form the browser would post to the tool."""
    params = lms.login_params(user, target, message)
    started = client.post("/lti/login", data=params) if method == "post" else client.get("/lti/login",
                                                                                          query_string=params)
    assert started.status_code == 302, started.get_data(as_text=True)
    assert started.location.startswith(lms.url + "/auth?")
    at_platform = requests.get(started.location, timeout=10)
    assert at_platform.status_code == 200, at_platform.text
    return form_of(at_platform.text)


def launch(client, lms, user: str = "ana", message: dict | None = None, target: str = LAUNCH_URL, **headers):
    """Login → authentication at the platform → launch: the tool's answer to the launch."""
    action, fields = start(client, lms, user, message or lms.resource_link(), target)
    return client.post(path_of(action), data=fields, headers=headers)
