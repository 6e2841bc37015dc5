"""Credentials out of everything written down: URLs lose their password and secret query values before they reach
a run folder, a manifest, a cache key, a log line or the screen.

An endpoint address often carries its credentials (`https://user:pass@host/v1`, `...?api-key=...` for Azure-style
gateways, `postgresql://annotator:pass@db/annotations`). `redact` is the one function every writer calls: it keeps
what tells the reader *where* (scheme, host, port, path, harmless query parameters such as `api-version`) and masks
what lets them *in*, the way SQLAlchemy shows a database URL (`user:***@host`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit

MASK = "***"
# query or fragment parameters whose value is a credential: api-key, key, token, access_token, secret, password,
# sig/signature (signed URLs), auth, credential, session
SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|sig|auth|credential|session", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def redact(value):
    """`value` with every URL in it redacted: a string, or dicts and lists of them (a manifest, settings), walked
    recursively; anything else is returned as it is."""
    if isinstance(value, str):
        return URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), value) if "://" in value else value
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    return value


def redact_url(url: str) -> str:
    """One URL with its password (or token-only user part) and secret query/fragment values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable (a broken IPv6 host): hide everything after the scheme
        return url.split("://", 1)[0] + "://" + MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        # a lone user part is often the token itself (https://sk-...@host): mask it too
        netloc = f"{user}:{MASK}@{host}" if has_password and user else f"{MASK}@{host}"
    query, fragment = _redact_pairs(parts.query), _redact_pairs(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # nothing secret: exactly as given (urlunsplit would turn sqlite:///x into sqlite:/x)
    return (f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
            + (f"#{fragment}" if fragment else ""))


def _redact_pairs(text: str) -> str:
    if "=" not in text:
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    return "&".join(f"{quote(name, safe='')}={MASK if SECRET_NAME.search(name) else quote(value, safe='')}"
                    for name, value in pairs)
