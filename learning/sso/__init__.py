"""Single sign-on per partner organisation: OpenID Connect and SAML 2.0 (docs/SSO.md)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """An erased person's links to their organisation's identity provider go (``user_erased``)."""
    from learning.sso.services import connect_erasure

    connect_erasure()
