"""Mirror URLs: https only, credentials kept out of every message, and opened with safe redirects.

    check_mirror("http://example.org/mnist/")     # DataError: plain http is refused (loopback excepted)
    redact("https://me:secret@host/d/?token=t")  # 'https://***@host/d/?token=***'
    response = open_url("https://me:secret@host/d/f.gz", timeout=30)   # credentials sent as Basic auth

Plain http is allowed only to loopback hosts (127.0.0.1, ::1, localhost), for local mirrors and tests.
A redirect must keep to the same rule and never go from https to http; credentials given in a mirror
URL are sent only to that URL's host, never to a host it redirects to.
"""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request

from mnistlab.errors import DataError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
HIDDEN = "***"


class RedirectRefused(Exception):
    """A mirror redirected to an address that `check_mirror` would refuse."""


def redact(url: str) -> str:
    """`url` without its secrets: the user name and password, and every query value, become ***."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return f"<a URL that does not parse: {HIDDEN}>"
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = "&".join(
        f"{field.split('=', 1)[0]}={HIDDEN}" if "=" in field else HIDDEN for field in parts.query.split("&")
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query if parts.query else "", ""))


def scrub(text: str, url: str) -> str:
    """`text` (an error message about `url`) with the URL's secrets replaced by ***."""
    text = text.replace(url, redact(url))
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _secrets(url: str) -> set[str]:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return {url}
    secrets = set()
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        secrets |= {userinfo, *userinfo.split(":", 1)}
    if parts.query:
        secrets.add(parts.query)
        for field in parts.query.split("&"):
            value = field.split("=", 1)[-1]
            secrets |= {value, urllib.parse.unquote_plus(value)}
    return {secret for secret in secrets if secret} | {urllib.parse.unquote(s) for s in secrets if s}


def check_mirror(url: str) -> None:
    """Refuse anything but https, except plain http to a loopback host."""
    if not _allowed(url):
        raise DataError(
            f"mirror {redact(url)} refused: only https:// mirrors are allowed (plain http only to "
            f"127.0.0.1, ::1 or localhost); use its https:// address in mirrors= or $MNISTLAB_MIRRORS"
        )


def _allowed(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


def file_url(base: str, filename: str) -> str:
    """The URL of `filename` under the mirror `base` (a folder, or the file itself), keeping its query."""
    parts = urllib.parse.urlsplit(base)
    path = parts.path if parts.path.endswith(filename) else parts.path.rstrip("/") + "/" + filename
    return urllib.parse.urlunsplit(parts._replace(path=path))


def open_url(url: str, timeout: float):
    """urlopen `url` with its user name and password (if any) sent as Basic auth, and safe redirects."""
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": "mnistlab"}
    if parts.username is not None or parts.password is not None:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    opener = urllib.request.build_opener(_SafeRedirects)  # honours HTTP(S)_PROXY and NO_PROXY
    return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, refused to plain http from https or to non-loopback http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old = urllib.parse.urlsplit(req.full_url)
        if not _allowed(newurl) or (old.scheme == "https" and not newurl.lower().startswith("https:")):
            fp.close()
            raise RedirectRefused(
                f"redirected (HTTP {code}) from {old.scheme} to {redact(newurl)}: refused, only https "
                f"(or http to a loopback host, from http) is followed"
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            moved = urllib.parse.urlsplit(new.full_url)
            if (moved.hostname, moved.port) != (old.hostname, old.port):
                new.remove_header("Authorization")  # credentials are for the mirror's own host only
        return new
