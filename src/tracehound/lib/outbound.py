"""All outbound HTTP (alert backends, SSO discovery and keys): one guarded client.

Alert channels and SSO providers are URLs that users type in, so every request could be
aimed at the server's own network (a cloud metadata endpoint, a database's admin port).
This module is the one place that talks HTTP to the outside, and it refuses that:

- `Outbound(redact=("secret", …))`: a client for one delivery attempt (or one SSO fetch).
- `client.request(method, url, *, json=None, data=None, headers=None, auth=None,
  timeout=(5.0, 20.0), max_bytes=1_000_000) -> Response`
  - resolves the host once (getaddrinfo) and refuses (raises `Blocked`, naming the
    address) private, loopback, link-local (169.254.169.254, the metadata service),
    multicast, reserved, unspecified and CGNAT (100.64.0.0/10) addresses, the IPv4
    inside IPv4-mapped, 6to4 (2002::/16) and Teredo IPv6 forms included, unless inside a CIDR of settings.TRACEHOUND_OUTBOUND_ALLOW
    (env TRACEHOUND_OUTBOUND_ALLOW, comma-separated);
  - connects to the address it checked (a socket to that IP, TLS verified against the
    host name with SNI, `Host` header preserved): no DNS rebinding between check and
    connect; environment proxies are not used (they would defeat the check);
  - never follows redirects (a 3xx is returned as is: the caller treats it as a failure);
  - timeouts always: `timeout=(connect, read)`; the read timeout also bounds the whole
    answer, status line and headers included (a receiver dripping one byte a second
    cannot hold a worker);
  - reads at most `max_bytes` of the body (stops reading, `Response.truncated`);
  - network failures raise `OutboundError` whose `.sent` is exact: False when no request
    bytes reached the receiver (refused, unreachable, TLS failure, connect timeout), True
    once the request was written (a timeout or reset afterwards: outcome unknown, so a
    ticket backend searches before creating again);
  - sends `User-Agent: Tracehound/<version>`;
  - every call is appended to `client.calls` as a `Call` with the URL, error and excerpt
    redacted (each string in `redact` replaced by "[redacted]"), and logged so.
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import urlsplit

log = logging.getLogger("tracehound.outbound")

USER_AGENT = "Tracehound/0.1"
EXCERPT_BYTES = 2048
CHUNK = 65536
# Not global although `ipaddress` calls some of them so (is_global misses multicast).
CGNAT = ipaddress.ip_network("100.64.0.0/10")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """The request failed without an HTTP answer; `sent`: it may have been received."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


class Blocked(OutboundError):
    """The address is not allowed (private, loopback, link-local, …)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    elapsed_ms: int
    truncated: bool = False  # the body was longer than max_bytes and was cut there

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


@dataclass
class Call:
    method: str
    url: str  # redacted
    status: int | None
    elapsed_ms: int
    error: str = ""
    excerpt: str = ""  # first 2 KB of the response body, redacted


def embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 form carries to the network (IPv4-mapped, 6to4 and the
    Teredo client), named: a router on the way may deliver it to that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    return None


def blocked_reason(address: IPAddress) -> str:
    """Why `address` may not be contacted ("" when it is a public address)."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner = blocked_reason(embedded[1])
        return f"{embedded[0]} {inner}" if inner else ""
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in CGNAT, "shared (CGNAT)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-global"),
    )
    return next((f"{name} address" for hit, name in checks if hit), "")


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    from django.conf import settings

    return list(getattr(settings, "TRACEHOUND_OUTBOUND_ALLOW", []))


def is_allowed(address: IPAddress) -> bool:
    """A public address, or one inside a TRACEHOUND_OUTBOUND_ALLOW network."""
    if not blocked_reason(address):
        return True
    candidates: list[IPAddress] = [address]
    embedded = embedded_ipv4(address)
    if embedded is not None:
        candidates.append(embedded[1])
    return any(
        a.version == net.version and a in net for a in candidates for net in allowed_networks()
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order (DNS asked once)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        return [literal]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundError(f"cannot resolve {host!r}: {exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """The resolved addresses we may connect to; Blocked names the first refused one."""
    addresses = resolve(host, port)
    usable = [a for a in addresses if is_allowed(a)]
    if not usable:
        first = addresses[0] if addresses else None
        reason = blocked_reason(first) if first is not None else "no address"
        raise Blocked(
            f"refusing to connect to {host} ({first}): {reason}; "
            "allow it with TRACEHOUND_OUTBOUND_ALLOW if it is meant to be reached"
        )
    return usable


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value[:12]), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def tls_context() -> ssl.SSLContext:
    """Verified TLS against the system's CAs, or certifi's when the system has none."""
    context = ssl.create_default_context()
    if not context.get_ca_certs():
        try:
            import certifi

            context.load_verify_locations(certifi.where())
        except ImportError:  # pragma: no cover - requests brings certifi
            pass
    return context


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked IP; `Host` (and TLS SNI) stay the URL's host."""

    def __init__(
        self, host: str, port: int, address: IPAddress, *, tls: bool, connect_timeout: float
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self.address = address
        self.tls = tls
        self.connected = False  # True once the TCP (and TLS) connection is up

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                sock = tls_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.connected = True


class DeadlineReader(io.RawIOBase):
    """Reads a socket with each recv's timeout shrunk to what is left of one deadline."""

    def __init__(self, sock: socket.socket, deadline: float, limit: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete answer within {self.limit:g} s")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class DeadlineSocket:
    """The connection's socket as http.client's response sees it: `makefile` reads
    through a DeadlineReader; everything else is the real socket's."""

    def __init__(self, sock: socket.socket, deadline: float, limit: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._limit = limit

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(DeadlineReader(self._sock, self._deadline, self._limit))

    def close(self) -> None:
        """http.client closes the connection's socket while the response still reads
        from it (a real socket defers that for its files); `_exchange` closes it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class Outbound:
    redact: tuple[str, ...] = ()
    calls: list[Call] = field(default_factory=list)
    last: Response | None = None  # the last answer (its headers: Retry-After, …)

    def hide(self, text: str) -> str:
        for secret in sorted(self.redact, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_bytes: int = 1_000_000,
    ) -> Response:
        started = time.perf_counter()
        shown = self.hide(url)[:500]
        try:
            response = self._request(method, url, json, data, headers, auth, timeout, max_bytes)
        except OutboundError as exc:
            ms = int((time.perf_counter() - started) * 1000)
            message = self.hide(str(exc))[:1000]
            self.calls.append(Call(method, shown, None, ms, error=message))
            log.info("outbound %s %s failed after %d ms: %s", method, shown, ms, message)
            raise type(exc)(message, sent=exc.sent) from None
        self.last = response
        excerpt = self.hide(response.body[:EXCERPT_BYTES].decode("utf-8", "replace"))
        self.calls.append(
            Call(method, shown, response.status, response.elapsed_ms, excerpt=excerpt)
        )
        log.info("outbound %s %s: %d in %d ms", method, shown, response.status, response.elapsed_ms)
        return response

    def _request(
        self,
        method: str,
        url: str,
        json: Any,
        data: bytes | None,
        headers: dict[str, str] | None,
        auth: tuple[str, str] | None,
        timeout: tuple[float, float],
        max_bytes: int,
    ) -> Response:
        started = time.perf_counter()
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise OutboundError(f"not an http(s) URL: {self.hide(url)[:200]!r}")
        if parts.username is not None or parts.password is not None:
            raise OutboundError("credentials in the URL are not supported (use auth)")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            # Redacted before it is cut: a cut secret would not be found by hide() later.
            raise OutboundError(f"bad port in URL {self.hide(url)[:200]!r}") from None
        host = parts.hostname
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = data
        sent_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if json is not None:
            import orjson

            body = orjson.dumps(json)
            sent_headers["Content-Type"] = "application/json"
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent_headers["Authorization"] = f"Basic {token}"
        sent_headers.update(headers or {})
        if any("\r" in f"{k}{v}" or "\n" in f"{k}{v}" for k, v in sent_headers.items()):
            raise OutboundError("a header name or value contains a line break")
        connection = self._connect(host, port, checked_addresses(host, port), scheme, timeout)
        try:
            return self._exchange(
                connection, method, path, body, sent_headers, timeout[1], max_bytes, started
            )
        finally:
            connection.close()

    def _connect(
        self,
        host: str,
        port: int,
        addresses: list[IPAddress],
        scheme: str,
        timeout: tuple[float, float],
    ) -> PinnedConnection:
        """Connect to the first checked address that answers; nothing is sent yet."""
        error: Exception | None = None
        for address in addresses:
            connection = PinnedConnection(
                host, port, address, tls=scheme == "https", connect_timeout=timeout[0]
            )
            try:
                connection.connect()
                return connection
            except (OSError, ssl.SSLError) as exc:
                connection.close()
                error = exc
        raise OutboundError(
            f"cannot connect to {host}:{port}: {type(error).__name__}: {error}", sent=False
        )

    def _exchange(
        self,
        connection: PinnedConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float,
        max_bytes: int,
        started: float,
    ) -> Response:
        """Write the request, then read the answer within `read_timeout` overall."""
        sock = connection.sock
        assert sock is not None
        sock.settimeout(read_timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
        except UnicodeEncodeError as exc:
            # http.client encodes the request line as ASCII and headers as Latin-1 before
            # anything is written. The value itself may be a secret: not quoted.
            raise OutboundError(
                "the request cannot be encoded (a header value outside Latin-1 or a URL "
                f"path outside ASCII): {type(exc).__name__}: {exc.reason}"
            ) from None
        except ValueError as exc:
            raise OutboundError(
                f"the request is malformed (an invalid header or URL path): {type(exc).__name__}"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            # Some bytes may have gone out but the request is incomplete: the receiver
            # cannot have acted on it.
            raise OutboundError(f"sending failed: {type(exc).__name__}: {exc}") from None
        deadline = time.monotonic() + read_timeout
        # The status line and headers too: http.client reads them with a per-read timeout
        # only, so a receiver dripping a header byte by byte would otherwise hold us.
        connection.sock = cast(socket.socket, DeadlineSocket(sock, deadline, read_timeout))
        try:
            return self._read_answer(connection, read_timeout, deadline, max_bytes, started)
        finally:
            sock.close()

    def _read_answer(
        self,
        connection: PinnedConnection,
        read_timeout: float,
        deadline: float,
        max_bytes: int,
        started: float,
    ) -> Response:
        """Status line, headers and body, all before `deadline`."""
        try:
            answer = connection.getresponse()
            chunks: list[bytes] = []
            size = 0
            truncated = False
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no complete answer within {read_timeout:g} s")
                chunk = answer.read1(min(CHUNK, max_bytes - size + 1))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    truncated = True
                    break
        except (OSError, http.client.HTTPException) as exc:
            name = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise OutboundError(f"request sent, answer lost ({name}: {exc})", sent=True) from None
        content = b"".join(chunks)[:max_bytes]
        elapsed = int((time.perf_counter() - started) * 1000)
        lowered = {k.lower(): v for k, v in answer.getheaders()}
        return Response(answer.status, lowered, content, elapsed, truncated)


def requests_adapter() -> Any:
    """A `requests` transport adapter that sends through Outbound (for libraries that
    take a requests Session, like authlib): the same address guard, pinning, timeouts and
    body cap. Network failures become requests.ConnectionError / Timeout."""
    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers

    class OutboundAdapter(BaseAdapter):
        def send(
            self,
            request: requests.PreparedRequest,
            stream: bool = False,
            timeout: Any = None,
            verify: Any = True,
            cert: Any = None,
            proxies: Any = None,
        ) -> requests.Response:
            if isinstance(timeout, tuple):
                limits = (float(timeout[0] or 5.0), float(timeout[1] or 20.0))
            else:
                limits = (5.0, float(timeout or 20.0))
            skip = {"accept-encoding", "content-length", "host", "connection"}
            headers = {
                k: v.decode("latin-1") if isinstance(v, bytes) else v
                for k, v in request.headers.items()
                if k.lower() not in skip
            }
            body = request.body.encode() if isinstance(request.body, str) else request.body
            try:
                answer = Outbound().request(
                    request.method or "GET",
                    request.url or "",
                    data=body if isinstance(body, bytes) else None,
                    headers=headers,
                    timeout=limits,
                )
            except Blocked as exc:
                raise requests.ConnectionError(str(exc), request=request) from None
            except OutboundError as exc:
                kind = requests.Timeout if "timed out" in str(exc) else requests.ConnectionError
                raise kind(str(exc), request=request) from None
            response = requests.Response()
            response.status_code = answer.status
            response.headers = CaseInsensitiveDict(answer.headers)
            response._content = answer.body
            response.url = request.url or ""
            response.request = request
            response.reason = ""
            response.encoding = get_encoding_from_headers(response.headers)
            return response

        def close(self) -> None:
            pass

    return OutboundAdapter()
