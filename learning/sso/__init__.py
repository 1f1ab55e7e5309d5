"""Single sign-on per partner organisation: OpenID Connect and SAML 2.0 (docs/SSO.md)."""
