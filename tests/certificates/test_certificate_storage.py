"""Where PDFs are kept: a folder by default, or an S3-compatible bucket chosen by configuration."""

from __future__ import annotations

import io

import pytest

from learning.certificates.storage import (
    FileSystemStorage,
    S3Storage,
    StoredFileMissing,
    get_storage,
)


class FakeS3Client:
    """Acts like boto3's S3 client for the four calls the storage makes (no network)."""

    def __init__(self):
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def put_object(self, Bucket, Key, Body, ContentType):
        self.objects[(Bucket, Key)] = (Body, ContentType)

    def _missing(self):
        error = Exception("Not Found")
        error.response = {"Error": {"Code": "NoSuchKey"}}
        return error

    def get_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            raise self._missing()
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)][0])}

    def head_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            error = self._missing()
            error.response = {"Error": {"Code": "404"}}
            raise error
        return {}


def test_the_filesystem_storage_keeps_and_returns_files(tmp_path):
    storage = FileSystemStorage(tmp_path)
    storage.put("certificates/A.pdf", b"%PDF-1.7 one", "application/pdf")
    storage.put("certificates/A.pdf", b"%PDF-1.7 two", "application/pdf")
    assert storage.get("certificates/A.pdf") == b"%PDF-1.7 two"
    assert storage.exists("certificates/A.pdf") and not storage.exists("certificates/B.pdf")
    assert [p.name for p in (tmp_path / "certificates").iterdir()] == ["A.pdf"]  # no temporary files left
    with pytest.raises(StoredFileMissing):
        storage.get("certificates/B.pdf")


def test_storage_keys_cannot_escape_the_folder(tmp_path):
    with pytest.raises(ValueError):
        FileSystemStorage(tmp_path).put("../outside.pdf", b"x")


def test_the_s3_storage_writes_under_its_prefix():
    client = FakeS3Client()
    storage = S3Storage("certs", prefix="prod/", client=client)
    storage.put("certificates/A.pdf", b"%PDF", "application/pdf")
    assert client.objects[("certs", "prod/certificates/A.pdf")] == (b"%PDF", "application/pdf")
    assert storage.get("certificates/A.pdf") == b"%PDF"
    assert storage.exists("certificates/A.pdf") and not storage.exists("certificates/B.pdf")
    with pytest.raises(StoredFileMissing):
        storage.get("certificates/B.pdf")


def test_configuration_selects_the_backend(app):
    from celery import _state

    from learning import create_app

    with app.app_context():
        assert isinstance(get_storage(), FileSystemStorage)
    default, current = _state.default_app, _state.get_current_app()
    try:
        other = create_app({**app.config, "CERTIFICATE_STORAGE": "floppy"})
    finally:  # building an app makes its Celery app current: put back the suite's
        _state.set_default_app(default)
        _state._set_current_app(current)
    with other.app_context(), pytest.raises(RuntimeError, match="CERTIFICATE_STORAGE"):
        get_storage()


def test_the_openapi_document_describes_the_certificate_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/me/certificates", "/api/v1/certificates/{code}", "/api/v1/certificates/{code}/credential",
                 "/api/v1/certificates/{code}/revoke", "/api/v1/status-lists/{list_number}"):
        assert path in paths, path
    credential = paths["/api/v1/certificates/{code}/credential"]["get"]["responses"]["200"]["content"]
    assert {"application/vc+ld+json", "application/vc+jwt"} <= set(credential)
    assert "422" in paths["/api/v1/certificates/{code}/revoke"]["post"]["responses"]
