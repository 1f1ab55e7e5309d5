"""Errors are the platform's own pages, in the reader's language; the API keeps its JSON body.

Werkzeug's descriptions ("The requested URL was not found on the server...") are English
only; a Spanish or Arabic reader must never meet them.
"""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

WERKZEUG_ENGLISH = ("The requested URL", "The method is not allowed", "You don't have the permission",
                    "Not Found", "Method Not Allowed", "Forbidden")
EXPECTED = {
    "en": {404: "We could not find that page.", 405: "This page cannot be used that way.",
           403: "You do not have permission to see this page."},
    "es": {404: "No encontramos esa página.", 405: "Esta página no se puede usar de esa manera.",
           403: "No tiene permiso para ver esta página."},
    "fr": {404: "Nous n'avons pas trouvé cette page.", 405: "Cette page ne peut pas être utilisée ainsi.",
           403: "Vous n'avez pas l'autorisation de voir cette page."},
    "pt": {404: "Não encontramos essa página.", 405: "Esta página não pode ser usada dessa forma.",
           403: "Você não tem permissão para ver esta página."},
    "ar": {404: "لم نعثر على هذه الصفحة.", 405: "لا يمكن استخدام هذه الصفحة بهذه الطريقة.",
           403: "ليست لديك صلاحية لعرض هذه الصفحة."},
}


def page_text(response) -> str:
    import html

    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("lang", sorted(EXPECTED))
def test_http_errors_are_the_platforms_pages_in_the_readers_language(client, make, lang):
    learner = make.user(language=lang)
    client.set_cookie("lang", lang)  # a visitor who chose the language
    cases = {404: client.get("/no-such-page"), 405: client.post("/")}
    client.post("/account/login", data={"email": learner.email, "password": PASSWORD})
    cases[403] = client.get("/admin/audit/")
    for status, response in cases.items():
        assert response.status_code == status
        text = page_text(response)
        assert f'<html lang="{lang}"' in text
        assert EXPECTED[lang][status] in text, (status, lang)
        assert not any(english in text for english in WERKZEUG_ENGLISH if lang != "en"), (status, lang)
        assert 'class="site-header"' in text  # the platform's layout, with its navigation


def test_the_api_keeps_its_json_error_body(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "Not found."}}
