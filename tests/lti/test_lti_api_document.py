"""The OpenAPI document (``/api/v1/openapi.json``) describes the LTI management calls as they answer: removing a
platform (``cascade``, the 409 ``platform_in_use`` body with its counts), listing its resource links and removing
one. Each answer below is validated against the schema the document gives for its status."""

from __future__ import annotations

import jsonschema

from learning.extensions import db
from learning.lti import models as lti
from tests.lti.test_removal import launched, registered

PLATFORM, LINKS, LINK = "/api/v1/lti/platforms/{platform_id}", "/api/v1/lti/platforms/{platform_id}/links", \
    "/api/v1/lti/links/{link_id}"


def _plain(schema, components: dict):
    """The document's schema as JSON Schema: references resolved, OpenAPI 3.0's ``nullable`` as a null type."""
    if isinstance(schema, list):
        return [_plain(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _plain(components[schema["$ref"].rsplit("/", 1)[1]], components)
    plain = {key: _plain(value, components) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable") and "type" in plain:
        plain["type"] = [plain["type"], "null"]
    return plain


def _check(document: dict, path: str, method: str, response) -> None:
    answers = document["paths"][path][method]["responses"]
    assert str(response.status_code) in answers, (path, method, response.status_code)
    content = answers[str(response.status_code)].get("content")
    if response.status_code == 204:
        assert content is None and response.get_data() == b""
        return
    schema = _plain(content["application/json"]["schema"], document["components"]["schemas"])
    jsonschema.validate(response.get_json(), schema)


def test_the_lti_management_calls_answer_as_the_document_says(app, api, make):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"platform_id", "cascade"} <= {p["name"] for p in document["paths"][PLATFORM]["delete"]["parameters"]}
    assert {"409", "404", "204"} <= set(document["paths"][PLATFORM]["delete"]["responses"])
    platform = registered()
    link = launched(platform, make.course())
    bare = lti.LtiResourceLink(platform_id=platform.id, deployment_id=platform.deployments[0].id,
                               resource_link_id="no-course", ags_scopes=[])  # no course, no context: nulls
    db.session.add(bare)
    db.session.commit()
    client = api.as_user(make.admin())

    in_use = client.delete(f"lti/platforms/{platform.id}")
    assert in_use.status_code == 409
    assert {k: in_use.get_json()["error"][k] for k in ("code", "resource_links", "linked_accounts")} == {
        "code": "platform_in_use", "resource_links": 2, "linked_accounts": 1}
    _check(document, PLATFORM, "delete", in_use)
    _check(document, PLATFORM, "delete", client.delete("lti/platforms/999999"))
    _check(document, PLATFORM, "delete", client.delete(f"lti/platforms/{platform.id}?cascade=perhaps"))

    listed = client.get(f"lti/platforms/{platform.id}/links")
    assert [item["course"] is None for item in listed.get_json()["items"]] == [False, True]
    _check(document, LINKS, "get", listed)
    _check(document, LINKS, "get", client.get("lti/platforms/999999/links"))
    _check(document, LINKS, "get", client.get(f"lti/platforms/{platform.id}/links?per_page=0"))

    _check(document, LINK, "delete", client.delete("lti/links/999999"))
    _check(document, LINK, "delete", client.delete(f"lti/links/{link.id}"))
    _check(document, PLATFORM, "delete", client.delete(f"lti/platforms/{platform.id}?cascade=true"))
