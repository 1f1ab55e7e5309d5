"""Where rendered certificate PDFs are kept: a folder by default, S3-compatible storage in production.

``CERTIFICATE_STORAGE`` selects the backend: ``filesystem`` (under
``STORAGE_DIR``) or ``s3`` (``CERTIFICATE_S3_BUCKET``, optional
``CERTIFICATE_S3_PREFIX`` and ``CERTIFICATE_S3_ENDPOINT_URL`` for MinIO and
the like; credentials come from boto3's usual environment). Web processes and
workers share the same storage, so the web tier keeps no state of its own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app


class StoredFileMissing(LookupError):
    """Nothing is stored under that key."""


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


def _safe_key(key: str) -> str:
    parts = [part for part in key.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise ValueError(f"unsafe storage key {key!r}")
    return "/".join(parts)


class FileSystemStorage:
    """Files under a root folder, written atomically (a reader never sees half a PDF)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StoredFileMissing(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Objects in an S3-compatible bucket; ``client`` is a boto3 S3 client (or one that acts alike)."""

    def __init__(self, bucket: str, prefix: str = "", client=None, endpoint_url: str | None = None):
        if client is None:
            try:
                import boto3
            except ImportError as exc:  # boto3 is only needed where S3 is used
                raise RuntimeError("CERTIFICATE_STORAGE=s3 needs the boto3 package installed.") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def _key(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _is_missing(exc):
                raise StoredFileMissing(key) from exc
            raise
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
        return True


def _is_missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def get_storage() -> Storage:
    """The storage backend the configuration selects."""
    config = current_app.config
    backend = config.get("CERTIFICATE_STORAGE", "filesystem")
    if backend == "s3":
        cache = current_app.extensions.setdefault("certificate_storage", {})
        if "s3" not in cache:
            cache["s3"] = S3Storage(
                bucket=config["CERTIFICATE_S3_BUCKET"],
                prefix=config.get("CERTIFICATE_S3_PREFIX", ""),
                endpoint_url=config.get("CERTIFICATE_S3_ENDPOINT_URL"),
            )
        return cache["s3"]
    if backend != "filesystem":
        raise RuntimeError(f"Unknown CERTIFICATE_STORAGE {backend!r}: use 'filesystem' or 's3'.")
    return FileSystemStorage(config["STORAGE_DIR"])
