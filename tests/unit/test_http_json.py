"""``adapters/http_json.py`` against real local servers (the standard library's, and a raw socket one that
closes kept-alive connections): what the CLI sends Prefect's API and how it reads the answers and the
trouble, as ``adapters/prefect_errors.py`` turns them into one line. ``tests/flows/test_prefect_api.py``
runs the same client against a real Prefect server."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.http_json import HttpStatusError, HttpTransportError, JsonClient
from adapters.prefect_errors import prefect_trouble, retry_unavailable, status_of, unavailable_on_trouble
from models.errors import Unavailable


class Recorder(BaseHTTPRequestHandler):
    """Answers ``/api/...`` with what it was sent; ``/api/status/N`` with HTTP N, a deployment by name with
    404, ``/api/busy`` with 503 while ``busy_left`` counts down."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]]
    busy_left: list[int]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                          "body": body, "peer": self.client_address})
        status = 200
        if self.path.startswith("/api/status/"):
            status = int(self.path.rsplit("/", 1)[1])
        elif self.path.startswith("/api/deployments/name/"):
            status = 404
        elif self.path == "/api/busy" and self.busy_left[0] > 0:
            self.busy_left[0] -= 1
            status = 503
        data = json.dumps({"path": self.path, "sent": json.loads(body) if body else None}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    seen: list[dict[str, Any]] = []
    busy_left = [0]
    handler = type("Handler", (Recorder,), {"seen": seen, "busy_left": busy_left})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api", seen, busy_left
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_json_goes_out_with_the_headers_under_the_apis_path_and_comes_back_read(server):
    url, seen, _ = server
    body = {"flow_runs": {"id": {"any_": ["x"]}}, "limit": 1}
    with JsonClient(url, {"Authorization": "Basic abc", "Accept": "application/json"}) as client:
        answer = client.request("POST", "flow_runs/filter", body)
        again = client.request("GET", "/flow_runs/123")

    assert answer.status == 200 and answer.url == url + "/flow_runs/filter"
    assert answer.json() == {"path": "/api/flow_runs/filter", "sent": body}
    assert again.json() == {"path": "/api/flow_runs/123", "sent": None}
    assert seen[0]["headers"]["Authorization"] == "Basic abc"
    assert seen[0]["headers"]["Content-Type"] == "application/json"
    assert "Content-Type" not in seen[1]["headers"]
    # One kept-alive connection served both.
    assert seen[0]["peer"] == seen[1]["peer"]


def test_an_error_status_is_raised_with_its_code_and_read_as_prefects_trouble(server):
    url, _, _ = server
    with JsonClient(url, {}) as client:
        with pytest.raises(HttpStatusError) as refused:
            client.request("GET", "status/401")
        with pytest.raises(HttpStatusError) as missing:
            client.request("GET", "deployments/name/x")
        # The connection is still good after an error answer.
        assert client.request("GET", "fine").status == 200

    assert refused.value.status == 401 and status_of(refused.value) == 401
    assert "refused the credentials (HTTP 401)" in (prefect_trouble(refused.value, url, "d/d") or "")
    assert prefect_trouble(missing.value, url, "lcspr-review/lcspr-review") == \
        f"the deployment lcspr-review/lcspr-review does not exist on {url}; `lcspr up` deploys it"


def test_a_busy_server_is_asked_again_and_a_server_not_there_is_one_line(server):
    url, seen, busy_left = server
    busy_left[0] = 2
    with JsonClient(url, {}) as client:
        answer = retry_unavailable(lambda: client.request("GET", "busy"), first_delay=0.01)
    assert answer.status == 200 and len(seen) == 3

    gone = f"http://127.0.0.1:{closed_port()}/api"
    with pytest.raises(Unavailable, match=rf"^Cannot reach the Prefect API at {gone}; start the system"), \
            JsonClient(gone, {}) as client, unavailable_on_trouble(gone, "d/d"):
        client.request("GET", "flow_runs/1")


def test_httpxs_errors_from_prefects_client_are_read_the_same_way():
    request = httpx.Request("GET", "http://127.0.0.1:9/api/deployments/name/a/b")
    answered = httpx.HTTPStatusError("404", request=request, response=httpx.Response(404, request=request))
    assert status_of(answered) == 404
    assert "does not exist" in (prefect_trouble(answered, "http://127.0.0.1:9/api", "a/b") or "")
    assert prefect_trouble(httpx.ConnectError("no", request=request), "u", "a/b") == \
        "cannot reach the Prefect API at u; start the system with `lcspr up` (./run)"
    assert status_of(ValueError("not an answer")) is None


def test_a_kept_alive_connection_the_server_closed_is_opened_again_once():
    """Uvicorn closes a connection idle for 5 s; the next request on it must not fail."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections: list[int] = []

    def serve() -> None:
        for n in range(2):
            conn, _ = listener.accept()
            connections.append(n)
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                body = b'{"n": %d}' % n
                # A keep-alive answer, then the server closes the connection without a word.
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with JsonClient(f"http://127.0.0.1:{port}/api", {}, timeout=5) as client:
        first = client.request("GET", "a").json()
        thread.join(0.2)
        second = client.request("GET", "b").json()
    thread.join(5)
    listener.close()
    assert (first, second) == ({"n": 0}, {"n": 1})
    assert connections == [0, 1]


def test_a_url_that_is_not_http_is_refused_at_once():
    with pytest.raises(ValueError, match="not an http"):
        JsonClient("ftp://127.0.0.1/api", {})


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTPS server with a self-signed certificate for 127.0.0.1 (the CA bundle to trust it by)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    handler = type("Handler", (Recorder,), {"seen": [], "busy_left": [0]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/api", cert_file
    httpd.shutdown()
    httpd.server_close()


def test_https_checks_the_certificate_against_the_bundle_given_else_certifis(tls_server):
    url, cert_file = tls_server
    with JsonClient(url, {}, verify=str(cert_file)) as client:
        assert client.request("GET", "x").json()["path"] == "/api/x"
    with JsonClient(url, {}, verify=False) as client:
        assert client.request("GET", "y").status == 200
    with JsonClient(url, {}, verify=True) as client, pytest.raises(HttpTransportError, match="SSL"):
        client.request("GET", "z")
