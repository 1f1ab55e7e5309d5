"""The installable web app: its manifest, its service worker and the page shown offline.

The service worker (``static/js/sw.js``, hand-written, no build step) is served from the root,
so that its scope is the whole site, and with ``Cache-Control: no-cache`` so that browsers
check for a new version on every visit. It stays within the site's Content-Security-Policy:
it is a same-origin script, which ``default-src 'self'`` allows as a worker (docs/OFFLINE.md).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _

from learning.i18n import current_language, is_rtl

bp = Blueprint("offline", __name__)


@bp.get("/sw.js")
def service_worker():
    script = (Path(current_app.static_folder) / "js" / "sw.js").read_bytes()  # a few KB
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.headers["Service-Worker-Allowed"] = "/"
    return response.make_conditional(request)


@bp.get("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("Child Protection Learning"),
        "short_name": _("Learning"),
        "lang": current_language(),
        "dir": "rtl" if is_rtl() else "ltr",
        "start_url": url_for("enrolment.my_learning"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e79",
        "icons": [
            {"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": url_for("static", filename="favicon.png"), "sizes": "64x64", "type": "image/png"},
        ],
    }
    response = current_app.response_class(current_app.json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/offline")
def offline_page():
    """Shown by the service worker for a page this device has not kept, while offline."""
    return render_template("offline.html")
