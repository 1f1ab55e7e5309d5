"""The interactive API docs (``/api/v1/docs``) work offline: Swagger UI's files are served by the
platform from the ``swagger-ui-py`` package instead of a CDN, and the page's favicon is ours."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory

ASSETS_PATH = "/api/v1/docs/assets"
# Only what the docs page loads: the package ships an editor too, which is not ours to serve.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")

# Named like "static": files, not an API operation (the OpenAPI document lists only "api_*" endpoints),
# and reachable by an admin who has not set up two-factor sign-in yet, as the docs page is.
bp = Blueprint("static_api_docs", __name__, url_prefix=ASSETS_PATH)
bp.enable_openapi = False


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed (see pyproject.toml)")
    return Path(spec.origin).parent / "static"


@bp.get("/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(_assets_dir(), name, max_age=7 * 24 * 3600)


def register_docs(app: Flask) -> None:
    """Point APIFlask's Swagger UI page at the platform's own copies of its files."""
    app.config["SWAGGER_UI_CSS"] = f"{ASSETS_PATH}/swagger-ui.css"
    app.config["SWAGGER_UI_BUNDLE_JS"] = f"{ASSETS_PATH}/swagger-ui-bundle.js"
    app.config["SWAGGER_UI_STANDALONE_PRESET_JS"] = f"{ASSETS_PATH}/swagger-ui-standalone-preset.js"
    app.config["DOCS_FAVICON"] = "/static/favicon.png"
    app.register_blueprint(bp)
