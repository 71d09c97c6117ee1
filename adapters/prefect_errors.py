"""What both Prefect adapters do with trouble: retry what the server answers when it is busy, and turn a
server that cannot be reached, or refuses us, into one readable line saying what to do.

``adapters/prefect_api.py`` (runs over plain HTTP) and ``adapters/prefect_runs.py`` (Prefect's own
client) both call through here; both raise httpx's errors, Prefect's client being built on httpx.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from models.errors import Unavailable

T = TypeVar("T")
# Prefect's client retries these by default (PREFECT_CLIENT_MAX_RETRIES); 503 is also what the server's
# SQLite answers under concurrent writes.
RETRIED = frozenset({429, 502, 503})


def retry_unavailable(call: Callable[[], T], *, attempts: int = 6, first_delay: float = 0.5) -> T:
    """Call, retrying HTTP 503 (SQLite's "database is locked" on the server), 502 and 429 with backoff."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in RETRIED or attempt == attempts:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


def prefect_trouble(exc: Exception, api_url: str, deployment: str) -> str | None:
    """One line saying why Prefect could not be asked, and what to do; None if it is not that."""
    if isinstance(exc, httpx.TransportError):
        return f"cannot reach the Prefect API at {api_url}; start the system with `lcspr up` (./run)"
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if code in (401, 403):
            return (f"the Prefect API at {api_url} refused the credentials (HTTP {code}): set "
                    "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING ('user:password')")
        if code == 404 and "/deployments/name/" in str(exc.request.url):
            return f"the deployment {deployment} does not exist on {api_url}; `lcspr up` deploys it"
        if code >= 500:
            return f"the Prefect API at {api_url} failed (HTTP {code}); see its log (.lcspr/logs/server.log)"
    return None


@contextlib.contextmanager
def unavailable_on_trouble(api_url: str, deployment: str) -> Iterator[None]:
    """Turn a server that cannot be reached, or refuses us, into :class:`Unavailable` with one clear line."""
    try:
        yield
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        trouble = prefect_trouble(exc, api_url.rstrip("/"), deployment)
        if trouble is None:
            raise
        raise Unavailable(trouble[0].upper() + trouble[1:] + ".") from None
