"""The interface speaks Spanish, French, Portuguese and Arabic: every message is translated.

The catalogues are checked against a fresh extraction of the code and templates, so a
string added without a translation fails here with the list of what is missing; the
committed .mo files must match their .po files, since the application does not compile
them at start.
"""

from __future__ import annotations

import gettext
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from learning.accounts.models import User
from learning.extensions import db
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "learning" / "translations"
LANGUAGES = ("es", "fr", "pt", "ar")
PLURAL_FORMS = {"es": 3, "fr": 3, "pt": 3, "ar": 6}

# %(name)s, %%, {name} and HTML tags must survive translation unchanged.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|%%|\{[^{}]*\}|</?[a-zA-Z][^>]*>")


def key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def placeholders(text: str, python_format: bool) -> list[str]:
    found = PLACEHOLDER.findall(text)
    return sorted(found if python_format else [p for p in found if p != "%%"])


def catalogue(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages of today's code and templates, extracted as `make translations` does."""
    pot = tmp_path_factory.mktemp("extract") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with open(pot, "rb") as fh:
        return [m for m in read_po(fh) if m.id]


def test_the_extraction_finds_the_interface_messages(extracted):
    ids = {key(m) for m in extracted}
    # One from Python (a lazy sector label), one from a template, one plural.
    assert {"Law enforcement", "Create an account", "%(num)d course"} <= ids
    assert len(ids) > 400


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_of_the_code_and_templates_is_translated(extracted, lang):
    translated = {key(m): m for m in catalogue(lang) if m.id}
    missing = []
    for message in extracted:
        entry = translated.get(key(message))
        strings = entry and (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if not entry or entry.fuzzy or not all(strings) or (message.pluralizable and not entry.pluralizable):
            missing.append(key(message))
    assert not missing, (
        f"{len(missing)} message(s) lack a {lang} translation; run `make translations` and translate:\n"
        + "\n".join(f"  {m!r}" for m in missing)
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder_and_tag(lang):
    wrong = []
    for message in catalogue(lang):
        if not message.id or not message.string:
            continue
        python_format = "python-format" in message.flags
        if message.pluralizable:
            allowed = set(placeholders(message.id[0], True)) | set(placeholders(message.id[1], True))
            forms = message.string
            # Arabic may say "one course" without the number, but never invent a placeholder,
            # and the general plural form keeps them all.
            if any(not set(placeholders(form, True)) <= allowed for form in forms) \
                    or placeholders(forms[-1], True) != placeholders(message.id[1], True):
                wrong.append((message.id, forms))
        elif placeholders(message.id, python_format) != placeholders(message.string, python_format):
            wrong.append((message.id, message.string))
    assert not wrong, "\n".join(f"{msgid!r} -> {text!r}" for msgid, text in wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_plural_forms(lang):
    cat = catalogue(lang)
    assert cat.num_plurals == PLURAL_FORMS[lang]
    plurals = [m for m in cat if m.id and m.pluralizable]
    assert plurals and all(len(m.string) == PLURAL_FORMS[lang] for m in plurals)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(lang):
    """The app reads the committed .mo: it must hold exactly what the .po says."""
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for message in catalogue(lang):
        if not message.id or message.fuzzy:
            continue
        if message.pluralizable:
            got = tuple(compiled.ngettext(*message.id, n) for n in (0, 1, 2, 3, 11, 100))
            want = tuple(message.string[compiled.plural(n)] for n in (0, 1, 2, 3, 11, 100))
        elif message.context:  # pgettext("attendance mark", "Present")
            got, want = compiled.pgettext(message.context, message.id), message.string
        else:
            got, want = compiled.gettext(message.id), message.string
        if got != want:
            stale.append(key(message))
    assert not stale, f"{lang} .mo is stale; run `pybabel compile -d learning/translations`: {stale[:10]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_rules_choose_the_right_form(app, lang):
    from flask_babel import force_locale, ngettext

    expected = {
        "es": ["1 curso", "2 cursos", "11 cursos"],
        "fr": ["1 cours", "2 cours", "11 cours"],
        "pt": ["1 curso", "2 cursos", "11 cursos"],
        "ar": ["دورة واحدة", "دورتان", "11 دورة"],
    }[lang]
    with app.test_request_context(), force_locale(lang):
        said = [ngettext("%(num)d course", "%(num)d courses", n) for n in (1, 2, 11)]
    assert said == expected
    if lang == "ar":
        with app.test_request_context(), force_locale("ar"):
            assert ngettext("%(num)d course", "%(num)d courses", 5) == "5 دورات"


# --- pages ------------------------------------------------------------------------------

def page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


HOME = {
    "es": "Formación para los profesionales que protegen a la infancia",
    "fr": "La formation des professionnels qui protègent les enfants",
    "pt": "Capacitação para os profissionais que protegem crianças",
    "ar": "تدريب المهنيين الذين يحمون الأطفال",
}
SIGN_IN = {"es": "¿Ha olvidado su contraseña?", "fr": "Mot de passe oublié\u00a0?",
           "pt": "Esqueceu sua senha?", "ar": "هل نسيت كلمة المرور؟"}
SIGN_UP = {"es": "¿Ya tiene una cuenta?", "fr": "Vous avez déjà un compte\u00a0?",
           "pt": "Já tem uma conta?", "ar": "هل لديك حساب بالفعل؟"}
COLOMBIA = {"es": "Colombia", "fr": "Colombie", "pt": "Colômbia", "ar": "كولومبيا"}
LAW_ENFORCEMENT = {"es": "Fuerzas del orden", "fr": "Forces de l'ordre",
                   "pt": "Segurança pública", "ar": "إنفاذ القانون"}
FIND_COURSES = {"es": "Buscar cursos", "fr": "Trouver des cours", "pt": "Encontrar cursos",
                "ar": "البحث عن دورات"}
ONE_COURSE = {"es": "1 curso", "fr": "1 cours", "pt": "1 curso", "ar": "دورة واحدة"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_home_page_speaks_the_language_asked_for_in_the_address(client, lang):
    page = page_text(client.get(f"/?lang={lang}"))
    assert HOME[lang] in page
    assert "Training for the professionals who protect children" not in page
    assert f'lang="{lang}"' in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_page_follows_the_browser_language(client, lang):
    page = page_text(client.get("/account/login", headers={"Accept-Language": f"{lang},en;q=0.5"}))
    assert SIGN_IN[lang] in page
    assert "Forgot your password?" not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_up_form_names_countries_and_sectors_in_the_language(client, lang):
    page = page_text(client.get(f"/account/signup?lang={lang}"))
    assert SIGN_UP[lang] in page
    assert f'<option value="CO">{COLOMBIA[lang]}</option>' in page
    assert f'<option value="law_enforcement">{LAW_ENFORCEMENT[lang]}</option>' in page
    assert "Law enforcement" not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_catalogue_speaks_the_language(client, make, lang):
    make.course(title="Recognising exploitation", sectors=["law_enforcement"], translations={})
    page = page_text(client.get("/courses/", headers={"Accept-Language": lang}))
    assert FIND_COURSES[lang] in page
    assert ONE_COURSE[lang] in page
    assert LAW_ENFORCEMENT[lang] in page
    # Course texts are data, not interface: a course with no translation keeps its own title.
    assert "Recognising exploitation" in page


def test_arabic_pages_are_right_to_left(client):
    for path in ("/?lang=ar", "/account/login?lang=ar", "/account/signup?lang=ar", "/courses/?lang=ar"):
        page = page_text(client.get(path))
        assert '<html lang="ar" dir="rtl">' in page, path


def test_other_languages_are_left_to_right(client):
    for lang in ("en", "es", "fr", "pt"):
        assert f'<html lang="{lang}" dir="ltr">' in page_text(client.get(f"/?lang={lang}"))


def test_a_signed_in_learner_sees_the_interface_in_the_language_of_their_profile(client, make):
    learner = make.user(language="pt-BR")
    response = client.post("/account/login", data={"email": learner.email, "password": PASSWORD})
    assert response.status_code == 302
    page = page_text(client.get("/courses/", headers={"Accept-Language": "fr"}))
    assert "Minha aprendizagem" in page and "Sair" in page
    assert "Mon apprentissage" not in page


REQUIRED = {"es": "Este campo es obligatorio.", "fr": "Ce champ est requis.",
            "pt": "Campo obrigatório.", "ar": "هذا الحقل مطلوب."}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_form_errors_are_in_the_language_too(client, lang):
    response = client.post(f"/account/signup?lang={lang}", data={})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert REQUIRED[lang] in page and "This field is required." not in page


def test_a_failed_sign_in_is_explained_in_the_language_of_the_page(client, make):
    learner = make.user(email="rosa@example.org")
    response = client.post("/account/login?lang=es", data={"email": learner.email, "password": "not-the-password-9"},
                           follow_redirects=True)
    page = page_text(response)
    assert "Dirección de correo electrónico o contraseña incorrecta." in page
    assert "Wrong e-mail address or password." not in page


def test_the_api_explains_a_refused_sign_up_in_the_language_asked_for(app, client):
    response = client.post("/api/v1/users", headers={"Accept-Language": "fr"}, json={
        "email": "lea@example.org", "password": "court", "full_name": "Léa Martin",
        "country": "FR", "sector": "education", "language": "fr"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "Certains champs ne sont pas valides."
    assert error["fields"] == {"password": ["Utilisez au moins 10 caractères."]}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
