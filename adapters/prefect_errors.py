"""What both Prefect adapters do with trouble: retry what the server answers when it is busy, and turn a
server that cannot be reached, or refuses us, into one readable line saying what to do.

``adapters/prefect_api.py`` (runs over plain HTTP, ``adapters/http_json.py``) and ``adapters/prefect_runs.py``
(Prefect's own client, built on httpx) both call through here. The errors of both are read the same way;
httpx's are looked for only where httpx is loaded already (an error cannot be httpx's otherwise), so the
CLI, which never loads it, does not pay for its import here.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from adapters.http_json import HttpStatusError, HttpTransportError
from models.errors import Unavailable

T = TypeVar("T")
# Prefect's client retries these by default (PREFECT_CLIENT_MAX_RETRIES); 503 is also what the server's
# SQLite answers under concurrent writes.
RETRIED = frozenset({429, 502, 503})


def status_of(exc: BaseException) -> int | None:
    """The HTTP status the server answered with, if ``exc`` is such an answer (ours or httpx's)."""
    if isinstance(exc, HttpStatusError):
        return exc.status
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return int(exc.response.status_code)
    return None


def _url_of(exc: BaseException) -> str:
    if isinstance(exc, HttpStatusError):
        return exc.url
    request = getattr(exc, "request", None)
    return str(request.url) if request is not None else ""


def unreachable(exc: BaseException) -> bool:
    """No answer came: the server could not be reached or broke off (ours or httpx's)."""
    if isinstance(exc, HttpTransportError):
        return True
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


def retry_unavailable(call: Callable[[], T], *, attempts: int = 6, first_delay: float = 0.5) -> T:
    """Call, retrying HTTP 503 (SQLite's "database is locked" on the server), 502 and 429 with backoff."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if status_of(exc) not in RETRIED or attempt == attempts:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


def prefect_trouble(exc: Exception, api_url: str, deployment: str) -> str | None:
    """One line saying why Prefect could not be asked, and what to do; None if it is not that."""
    if unreachable(exc):
        return f"cannot reach the Prefect API at {api_url}; start the system with `lcspr up` (./run)"
    code = status_of(exc)
    if code is not None:
        if code in (401, 403):
            return (f"the Prefect API at {api_url} refused the credentials (HTTP {code}): set "
                    "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING ('user:password')")
        if code == 404 and "/deployments/name/" in _url_of(exc):
            return f"the deployment {deployment} does not exist on {api_url}; `lcspr up` deploys it"
        if code >= 500:
            return f"the Prefect API at {api_url} failed (HTTP {code}); see its log (.lcspr/logs/server.log)"
    return None


@contextlib.contextmanager
def unavailable_on_trouble(api_url: str, deployment: str) -> Iterator[None]:
    """Turn a server that cannot be reached, or refuses us, into :class:`Unavailable` with one clear line."""
    try:
        yield
    except Exception as exc:
        trouble = prefect_trouble(exc, api_url.rstrip("/"), deployment)
        if trouble is None:
            raise
        raise Unavailable(trouble[0].upper() + trouble[1:] + ".") from None
