"""JSON-LD processing from the repository's own copies of the contexts: nothing is ever fetched.

The contexts in ``contexts/`` were copied from the npm packages that publish
them (see ``contexts/README.md``). A document naming any other context is
refused, so a credential can never depend on a server being up.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pyld import jsonld

CONTEXT_DIR = Path(__file__).resolve().parent / "contexts"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"

CONTEXT_FILES = {
    VC_V2: "credentials-v2.jsonld",
    OB_V3: "ob-v3p0-context-3.0.3.json",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
}


class UnknownContext(LookupError):
    """A document names a JSON-LD context the platform does not hold offline."""


@cache
def context_document(url: str) -> dict:
    """The parsed context published at ``url``, from the offline copy."""
    name = CONTEXT_FILES.get(url)
    if name is None:
        raise UnknownContext(f"No offline copy of the JSON-LD context {url!r}; refusing to fetch it.")
    return json.loads((CONTEXT_DIR / name).read_text(encoding="utf-8"))


def offline_loader(url: str, options=None) -> dict:
    """A pyld document loader that serves only the offline contexts."""
    try:
        document = context_document(url)
    except UnknownContext as exc:
        raise jsonld.JsonLdError(str(exc), "jsonld.LoadDocumentError", code="loading document failed") from exc
    return {"contextUrl": None, "documentUrl": url, "document": document}


def canonize(document: dict) -> str:
    """The RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document."""
    return jsonld.normalize(
        document,
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": offline_loader},
    )
