"""JSON over HTTP on the standard library: the few calls the CLI makes to Prefect's REST API.

httpx, which Prefect's own client is built on, costs about 0.1 s to import where ``rich`` and ``click``
are installed (Prefect installs both): its ``__init__`` then loads its command-line tool, and with it
``rich``, ``click`` and ``pygments``. ``lcspr status`` should answer in under half a second, and
``http.client`` loads in a few milliseconds. What these calls need is small: one keep-alive connection
to one server, JSON bodies, an ``Authorization`` header, TLS checked against a CA bundle, a timeout,
and errors that say whether the server answered (:class:`HttpStatusError`) or could not be reached
(:class:`HttpTransportError`). ``adapters/prefect_errors.py`` reads both, and httpx's own errors from
Prefect's client, the same way.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A kept-alive connection the server closed while idle fails on its next request with one of these,
# before the server has read that request: it is sent again once, on a new connection.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class HttpTransportError(Exception):
    """The server could not be reached, or broke off its answer (no HTTP status to read)."""


class HttpStatusError(Exception):
    """The server answered with an HTTP error status (4xx or 5xx)."""

    def __init__(self, method: str, url: str, status: int) -> None:
        super().__init__(f"HTTP {status} from {method} {url}")
        self.method = method
        self.url = url
        self.status = status


@dataclass(frozen=True)
class Response:
    status: int
    url: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """Certificates checked as httpx checks them: against ``verify`` when it names a CA bundle, else
    certifi's bundle (as Prefect's client does); not at all when ``verify`` is False."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class JsonClient:
    """One server, one kept-alive connection, JSON in and out. Paths are relative to ``base_url``."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, verify: bool | str = True,
                 timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = dict(headers)
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/") + "/"
        self._verify = verify
        self._connection: http.client.HTTPConnection | None = None

    def copy(self) -> JsonClient:
        """A client of the same server, credentials and settings, on a connection of its own (one a thread)."""
        return JsonClient(self.base_url, self.headers, verify=self._verify, timeout=self.timeout)

    def _connect(self) -> tuple[http.client.HTTPConnection, bool]:
        """The open connection (True: it served a request before), or a new one (False)."""
        if self._connection is not None:
            return self._connection, True
        if self._https:
            self._connection = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                           context=tls_context(self._verify))
        else:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._connection, False

    def request(self, method: str, path: str, json_body: Any = None) -> Response:
        """Send one request; raise :class:`HttpStatusError` for a 4xx or 5xx answer (as httpx's
        ``raise_for_status``) and :class:`HttpTransportError` when no answer came."""
        url = self.base_url + path.lstrip("/")
        target = self._prefix + path.lstrip("/")
        headers = dict(self.headers)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        while True:
            connection, reused = self._connect()
            try:
                connection.request(method, target, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except _STALE as exc:
                self.close()
                if reused:
                    continue
                raise HttpTransportError(f"{type(exc).__name__} from {method} {url}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise HttpTransportError(f"{type(exc).__name__} from {method} {url}: {exc}") from exc
            if answer.will_close:
                self.close()
            if answer.status >= 400:
                raise HttpStatusError(method, url, answer.status)
            return Response(answer.status, url, data)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
