"""A small OpenID provider of the tests' own, on 127.0.0.1 over real HTTP: discovery,
JWKS, a token endpoint and userinfo. It answers with ID tokens the test crafts (wrong
audience, foreign key, expired…), which a certified provider cannot be made to mint;
the happy paths are also run against the real `oidc-provider` in tests/e2e.

The token endpoint checks what a real provider checks: the client's credentials (basic
or post), the code, and the PKCE verifier against the S256 challenge of the
authorization request (the test hands that request's URL to `authorize()`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "tracehound"
CLIENT_SECRET = "s3cret-for-tests"


@dataclass
class Grant:
    nonce: str
    challenge: str
    redirect_uri: str
    claims: dict[str, Any]


@dataclass
class FakeProvider:
    port: int = 0
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    userinfo: dict[str, Any] | None = None
    end_session: bool = True
    # Change what the token endpoint answers: (claims, grant) -> (header, claims, key).
    craft: Callable[[dict[str, Any], Grant], tuple[dict[str, Any], dict[str, Any], Any]] | None = (
        None
    )

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def discovery(self) -> dict[str, Any]:
        doc = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }
        if self.end_session:
            doc["end_session_endpoint"] = f"{self.issuer}/logout"
        return doc

    def authorize(self, url: str, claims: dict[str, Any]) -> str:
        """Play the provider's login page for the authorization request at `url`: return
        the query string its redirect back would carry (code and state)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["code_challenge_method"] == "S256", query
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            query["nonce"], query["code_challenge"], query["redirect_uri"], claims
        )
        return f"code={code}&state={query['state']}"

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.claims,
        }
        header: dict[str, Any] = {"alg": "RS256", "kid": "k1"}
        key: Any = self.key
        if self.craft is not None:
            header, claims, key = self.craft(claims, grant)
        if header["alg"] == "none":  # joserfc refuses to make one: by hand
            head, body = (
                base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode()
                for x in (header, claims)
            )
            return f"{head}.{body}."
        return jwt.encode(header, claims, key)


def make_handler(op: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self.answer(200, op.discovery())
            elif self.path == "/jwks":
                self.answer(200, {"keys": [op.key.as_dict(private=False)]})
            elif self.path == "/userinfo" and op.userinfo is not None:
                self.answer(200, op.userinfo)
            else:
                self.answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            auth = self.headers.get("Authorization", "")
            op.token_requests.append({"form": form, "authorization": auth})
            if auth.startswith("Basic "):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            else:
                client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return self.answer(401, {"error": "invalid_client"})
            grant = op.grants.pop(form.get("code", ""), None)
            if grant is None or form.get("redirect_uri") != grant.redirect_uri:
                return self.answer(400, {"error": "invalid_grant"})
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return self.answer(400, {"error": "invalid_grant", "error_description": "PKCE"})
            self.answer(
                200,
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": op.id_token(grant),
                },
            )

    return Handler


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    op = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(op))
    op.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield op
    finally:
        server.shutdown()
        server.server_close()
