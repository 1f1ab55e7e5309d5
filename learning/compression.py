"""Compressed answers: Brotli where the client accepts it, gzip otherwise (docs/PERFORMANCE.md, "Brotli").

Pages, JSON and the service worker are compressed per response by Flask-Compress (Brotli at a fast
level: a page is made once). Static files are compressed once per file version at the strongest
level and kept in memory (a few hundred KB for the whole of ``static/``), so serving them costs a
dictionary lookup; their ETag becomes ``"<file's tag>:br"`` (or ``:gzip``), so revalidation still
answers 304. Streamed answers (CSV exports) are left as they are, and so are PDFs, images and fonts,
which are compressed already. A reverse proxy that compresses too finds ``Content-Encoding`` set
and leaves the answer alone; ``COMPRESS_RESPONSES=false`` turns all of this off.
"""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import brotli
from flask import Flask, Response, request
from flask_compress import Compress
from werkzeug.security import safe_join

COMPRESSED_TYPES = [
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
    "application/json", "application/problem+json", "application/manifest+json", "application/ld+json",
    "image/svg+xml", "application/xml",
]
STATIC_MIN_SIZE = 256  # below this a compressed file is not worth a header
_lock = threading.Lock()
_static: dict[tuple[str, int, int, str], bytes] = {}
_STATIC_LIMIT = 400  # entries (files times encodings): static/ holds a few dozen files


def init_app(app: Flask) -> None:
    if not app.config.get("COMPRESS_RESPONSES", True):  # a reverse proxy compresses instead
        return
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)  # per response: fast, already smaller than gzip at 6
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.config.setdefault("COMPRESS_STREAMS", False)  # streamed exports stay streamed; static files: below
    Compress(app)  # registered first, so its after_request runs last, once the answer is final

    @app.after_request
    def compress_static(response: Response) -> Response:
        if request.endpoint != "static":
            return response
        return _static_answer(app, response)


def _chosen(accept: str) -> str | None:
    offered = {}
    for part in accept.split(","):
        name, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip().lower()] = quality
    for name in ("br", "gzip"):
        if offered.get(name, offered.get("*", 0.0)) > 0:
            return name
    return None


def _static_answer(app: Flask, response: Response) -> Response:
    if response.status_code != 200 or response.mimetype not in COMPRESSED_TYPES or "Content-Encoding" in response.headers:
        return response
    response.vary.add("Accept-Encoding")
    encoding = _chosen(request.headers.get("Accept-Encoding", ""))
    path = safe_join(app.static_folder, (request.view_args or {}).get("filename", ""))
    if encoding is None or path is None or not os.path.isfile(path):
        return response
    stat = os.stat(path)
    if stat.st_size < STATIC_MIN_SIZE:
        return response
    key = (path, stat.st_mtime_ns, stat.st_size, encoding)
    body = _static.get(key)
    if body is None:
        raw = Path(path).read_bytes()
        body = brotli.compress(raw, quality=11) if encoding == "br" else gzip.compress(raw, 9, mtime=0)
        with _lock:
            if len(_static) >= _STATIC_LIMIT:
                _static.clear()
            _static[key] = body
    etag, weak = response.get_etag()
    if response.response is not None and hasattr(response.response, "close"):
        response.response.close()  # the file Flask opened to send: not read
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = encoding
    if etag:
        response.set_etag(f"{etag}:{encoding}", weak=weak)
    return response.make_conditional(request)
