"""Brotli where the client accepts it, gzip otherwise (learning/compression.py, docs/PERFORMANCE.md)."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

# A page's CSRF token is signed with the second it was made in: two requests a second apart differ there only.
_CSRF = re.compile(rb'(name="csrf[-_]token" (?:value|content)=)"[^"]*"')


def same_body(one: bytes, other: bytes) -> bool:
    """Whether two answers of the same page are the same, but for their CSRF tokens."""
    return _CSRF.sub(rb'\1""', one) == _CSRF.sub(rb'\1""', other)


@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/js/offline_queue.js", "/sw.js", "/offline"])
def test_text_is_sent_with_brotli_or_gzip_and_revalidates(client, path):
    plain = client.get(path)
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    br = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert same_body(brotli.decompress(br.data), plain.data)
    gz = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and same_body(gzip.decompress(gz.data), plain.data)
    if br.headers.get("ETag"):  # a kept copy is checked, not fetched again
        again = client.get(path, headers={"Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_tiny_files_and_refused_encodings_are_sent_as_they_are(client):
    assert "Content-Encoding" not in client.get("/static/favicon.svg", headers={"Accept-Encoding": "br"}).headers
    refused = client.get("/static/css/app.css", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_compression_can_be_left_to_a_reverse_proxy(base_config):
    from tests.conftest import build_app  # noqa: PLC0415

    app = build_app(base_config, COMPRESS_RESPONSES=False)
    response = app.test_client().get("/static/css/app.css", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in response.headers
