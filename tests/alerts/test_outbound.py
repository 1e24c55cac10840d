"""The outbound HTTP client against real local receivers: guard, pinning, timeouts, caps."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest

from tests.alerts.delivery_receiver import Receiver, Reply, closed_port
from tracehound.lib.outbound import (
    Blocked,
    Outbound,
    OutboundError,
    blocked_reason,
    parse_retry_after,
)

REFUSED = [
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.9.9.9", "loopback"),
    ("169.254.169.254", "link-local"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("ff02::1", "multicast"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
]


@pytest.fixture
def no_allow(settings: Any) -> None:
    settings.TRACEHOUND_OUTBOUND_ALLOW = []


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_refuses_each_internal_range(no_allow: None, address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    client = Outbound()
    with pytest.raises(Blocked) as refused:
        client.request("POST", f"http://{host}:8080/hook", json={"a": 1})
    assert refused.value.sent is False
    assert address in str(refused.value)
    assert kind in str(refused.value)
    assert "TRACEHOUND_OUTBOUND_ALLOW" in str(refused.value)
    assert client.calls[0].status is None and address in client.calls[0].error


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass_the_guard(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == ""


def test_refused_loopback_is_never_connected_to(no_allow: None) -> None:
    with Receiver() as receiver:
        with pytest.raises(Blocked):
            Outbound().request("GET", receiver.url + "/")
        time.sleep(0.1)
        assert receiver.received == []


def test_allowed_cidr_is_reached(settings: Any) -> None:
    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.1/32")]
    with Receiver(Reply(200, b'{"ok":true}')) as receiver:
        response = Outbound().request("POST", receiver.url + "/x?y=1", json={"n": 1})
        assert response.status == 200 and response.json() == {"ok": True}
        assert receiver.received[0].path == "/x?y=1"
        assert receiver.received[0].body == b'{"n":1}'
        assert receiver.received[0].headers["content-type"] == "application/json"
        assert receiver.received[0].headers["user-agent"].startswith("Tracehound/")


def test_a_neighbouring_address_outside_the_allowed_cidr_is_refused(settings: Any) -> None:
    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.2/32")]
    with Receiver() as receiver, pytest.raises(Blocked, match="127.0.0.1"):
        Outbound().request("GET", receiver.url + "/")


def test_a_name_resolving_to_loopback_is_refused(no_allow: None) -> None:
    with Receiver() as receiver:
        with pytest.raises(Blocked, match="refusing to connect to localhost"):
            Outbound().request("GET", f"http://localhost:{receiver.port}/")
        assert receiver.received == []


def test_a_name_is_pinned_to_the_checked_address_with_its_host_header() -> None:
    with Receiver() as receiver:
        response = Outbound().request("GET", f"http://localhost:{receiver.port}/p")
        assert response.status == 200
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"


def test_redirect_to_the_metadata_service_is_not_followed() -> None:
    redirect = Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    with Receiver(redirect) as receiver:
        response = Outbound().request("POST", receiver.url + "/hook", json={})
        assert response.status == 302
        assert response.headers["location"].startswith("http://169.254.169.254/")
        time.sleep(0.1)
        assert len(receiver.received) == 1


def test_oversized_body_is_cut_at_max_bytes() -> None:
    with Receiver(Reply(200, b"x" * 3_000_000)) as receiver:
        client = Outbound()
        response = client.request("GET", receiver.url + "/", max_bytes=1000)
        assert len(response.body) == 1000 and response.truncated
        assert len(client.calls[0].excerpt) == 1000


def test_slow_receiver_times_out_after_the_request_was_sent() -> None:
    with Receiver(Reply(hang=5)) as receiver:
        client = Outbound()
        started = time.monotonic()
        with pytest.raises(OutboundError) as failed:
            client.request("POST", receiver.url + "/", json={}, timeout=(5.0, 0.5))
        assert failed.value.sent is True
        assert time.monotonic() - started < 3
        assert "timed out" in str(failed.value)
        assert len(receiver.received) == 1


def test_a_dripping_body_is_bounded_by_the_read_timeout() -> None:
    with Receiver(Reply(200, b"y" * 100, drip=0.2)) as receiver:
        started = time.monotonic()
        with pytest.raises(OutboundError) as failed:
            Outbound().request("GET", receiver.url + "/", timeout=(5.0, 1.0))
        assert failed.value.sent is True
        assert time.monotonic() - started < 3


def test_reset_after_receiving_the_request_counts_as_sent() -> None:
    with Receiver(Reply(reset=True)) as receiver:
        with pytest.raises(OutboundError) as failed:
            Outbound().request("POST", receiver.url + "/issues", json={"title": "t"})
        assert failed.value.sent is True
        assert receiver.received[0].body == b'{"title":"t"}'


def test_refused_connection_was_not_sent() -> None:
    client = Outbound()
    with pytest.raises(OutboundError) as failed:
        client.request("POST", f"http://127.0.0.1:{closed_port()}/", json={})
    assert failed.value.sent is False
    assert "cannot connect" in str(failed.value)
    assert client.calls[0].error


def test_tls_is_verified_against_the_host_name() -> None:
    # A plain-HTTP receiver spoken to over TLS: the handshake fails, nothing is sent.
    with Receiver() as receiver:
        with pytest.raises(OutboundError) as failed:
            Outbound().request(
                "POST", f"https://127.0.0.1:{receiver.port}/", json={}, timeout=(2.0, 2.0)
            )
        assert failed.value.sent is False


def test_secrets_are_redacted_from_url_excerpt_and_error() -> None:
    secret = "T0KEN-s3cr3t-value"
    with Receiver(Reply(403, f"bad token {secret}".encode())) as receiver:
        client = Outbound(redact=(secret,))
        response = client.request("POST", f"{receiver.url}/hooks/{secret}", json={})
        assert response.status == 403
        call = client.calls[0]
        assert secret not in call.url and "[redacted]" in call.url
        assert secret not in call.excerpt and "[redacted]" in call.excerpt
    client = Outbound(redact=(secret,))
    with pytest.raises(OutboundError) as failed:
        client.request("GET", f"http://127.0.0.1:{closed_port()}/{secret}")
    assert secret not in str(failed.value)
    assert secret not in client.calls[0].url


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1/", "http:///nohost", "http://user:pw@example.com/"],
)
def test_urls_that_are_not_plain_http_are_refused(url: str) -> None:
    with pytest.raises(OutboundError) as failed:
        Outbound().request("GET", url)
    assert failed.value.sent is False


def test_header_injection_is_refused() -> None:
    with Receiver() as receiver, pytest.raises(OutboundError, match="line break"):
        Outbound().request("GET", receiver.url, headers={"X-A": "1\r\nX-B: 2"})
    assert receiver.received == []


def test_basic_auth_and_last_response() -> None:
    with Receiver(Reply(429, b"{}", {"Retry-After": "120"})) as receiver:
        client = Outbound()
        client.request("GET", receiver.url + "/", auth=("me@example.com", "tok"))
        assert receiver.received[0].headers["authorization"] == "Basic bWVAZXhhbXBsZS5jb206dG9r"
        assert client.last is not None and client.last.headers["retry-after"] == "120"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = datetime.now(tz=UTC) + timedelta(seconds=300)
    parsed = parse_retry_after(format_datetime(later, usegmt=True))
    assert parsed is not None and 295 <= parsed <= 301


def test_sso_discovery_goes_through_the_guard(settings: Any) -> None:
    from tracehound.accounts import sso

    with Receiver() as receiver:
        issuer = receiver.url
        discovery = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
        }
        receiver.replies = [Reply(200, orjson.dumps(discovery))]
        provider = sso.Provider("guarded", "Guarded SSO", issuer, "client", "secret")
        settings.TRACEHOUND_OUTBOUND_ALLOW = []
        with pytest.raises(sso.SsoError, match="cannot be reached") as refused:
            sso.oauth_app(provider)
        assert refused.value.status == 502
        assert receiver.received == []
        settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.0/8")]
        sso._apps.clear()
        app = sso.oauth_app(provider)
        assert app.load_server_metadata()["token_endpoint"] == f"{issuer}/token"
        (got,) = receiver.received
        assert got.path == "/.well-known/openid-configuration"
        assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
        sso._apps.clear()


def test_sso_redirects_are_not_followed(settings: Any) -> None:
    from tracehound.accounts import sso

    with Receiver(Reply(302, b"", {"Location": "http://169.254.169.254/"})) as receiver:
        provider = sso.Provider("redirecting", "Redirecting SSO", receiver.url, "c", "s")
        with pytest.raises(sso.SsoError, match="cannot be reached"):
            sso.oauth_app(provider)
        assert len(receiver.received) == 1
        sso._apps.clear()


def make_certificates(directory: Any) -> tuple[str, str, str]:
    """A CA and a server certificate for the name "localhost" only (not 127.0.0.1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    start = datetime.now(tz=UTC) - timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Test CA"))
        .issuer_name(name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = [str(directory / n) for n in ("ca.pem", "cert.pem", "key.pem")]
    pem = serialization.Encoding.PEM
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(paths[1], "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(paths[2], "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return paths[0], paths[1], paths[2]


def test_tls_is_pinned_to_the_address_and_verified_against_the_url_host(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    ca, cert, key = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", ca)
    with Receiver(Reply(200, b'{"ok":1}')) as receiver:
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert, key)
        receiver.server.socket = server_context.wrap_socket(
            receiver.server.socket, server_side=True
        )
        # The name on the certificate: verified, SNI and Host are "localhost".
        response = Outbound().request("POST", f"https://localhost:{receiver.port}/t", json={})
        assert response.status == 200 and response.json() == {"ok": 1}
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
        # The same server by address: the certificate does not name it, nothing is sent.
        with pytest.raises(OutboundError, match="cannot connect") as failed:
            Outbound().request("POST", f"https://127.0.0.1:{receiver.port}/t", json={})
        assert failed.value.sent is False
        assert len(receiver.received) == 1


def header_dripper(stop: threading.Event) -> tuple[socket.socket, list[bytes]]:
    """A receiver that reads the request, then drips a header one byte every 0.25 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            got.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            for _ in range(16):  # 4 s at most, then the header ends (bounded before the fix)
                if stop.wait(0.25):
                    return
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    return server, got


def test_a_dripping_header_is_bounded_by_the_read_timeout() -> None:
    stop = threading.Event()
    server, got = header_dripper(stop)
    client = Outbound()
    started = time.monotonic()
    try:
        with pytest.raises(OutboundError) as failed:
            client.request(
                "POST", f"http://127.0.0.1:{server.getsockname()[1]}/", json={}, timeout=(5, 1.0)
            )
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        server.close()
    assert failed.value.sent is True
    assert "timed out" in str(failed.value)
    assert elapsed < 2.0, f"held {elapsed:.1f} s by a dripping header"
    assert got and got[0].startswith(b"POST / HTTP/1.1")


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "2002:0a00:0001::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)
def test_6to4_and_teredo_forms_of_internal_addresses_are_refused(
    no_allow: None, address: str
) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) != ""
    with pytest.raises(Blocked) as refused:
        Outbound().request("GET", f"http://[{address}]:8080/")
    assert "6to4" in str(refused.value) or "Teredo" in str(refused.value)


def test_a_bad_port_error_does_not_leak_a_cut_secret() -> None:
    secret = "sig=" + "S" * 60
    url = "https://example.webhook.office.com/" + "p" * 150 + f"?{secret}&x=1"
    url = url.replace("office.com/", "office.com:99999/")
    client = Outbound(redact=(secret,))
    with pytest.raises(OutboundError) as failed:
        client.request("POST", url, json={})
    assert "bad port" in str(failed.value)
    assert "SSSS" not in str(failed.value)
    assert "SSSS" not in client.calls[0].error and "SSSS" not in client.calls[0].url


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/hook", {"Authorization": "Bearer t\u2013k"}), ("/h\u00e9\u2603", {})],
)
def test_unencodable_headers_or_path_are_an_outbound_error_logged_as_a_call(
    path: str, headers: dict[str, str]
) -> None:
    with Receiver(Reply()) as receiver:
        client = Outbound(redact=("t\u2013k",))
        with pytest.raises(OutboundError) as failed:
            client.request("POST", receiver.url + path, json={}, headers=headers)
        assert failed.value.sent is False
        assert "cannot be encoded" in str(failed.value)
        assert "t\u2013k" not in str(failed.value)
        assert len(client.calls) == 1 and client.calls[0].status is None
        assert receiver.received == []
