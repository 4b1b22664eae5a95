"""A small OpenID Connect provider on loopback, so tests exercise the real `st.login` flow without a network.

It implements what Streamlit's Authlib client uses, and checks what a real provider checks: discovery, an
authorization endpoint with a login form (type an email, press Sign in), a token endpoint (client
authentication, one-use codes bound to the redirect URI, PKCE S256), a JWKS with the RS256 key that signs the
id_token, userinfo, and an end-session endpoint. Keys and client secrets are generated when it starts, so
nothing secret is ever committed.

    provider = OIDCProvider(client_id="dashboard", redirect_uris=["http://127.0.0.1:8123/oauth2callback"])
    provider.start()          # serves on 127.0.0.1:<free port> in a daemon thread
    provider.issuer           # http://127.0.0.1:<port>
    provider.stop()
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    email: str
    nonce: str | None
    code_challenge: str | None
    scope: str
    issued: float = field(default_factory=time.time)


class OIDCProvider:
    """One client, any email typed into the form; claims can be adjusted per email with `claims_for`."""

    def __init__(
        self,
        *,
        client_id: str = "threat-dashboard",
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.redirect_uris = list(redirect_uris or [])
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})
        self.extra_claims: dict[str, dict[str, Any]] = {}  # email -> claims to add or override
        self.requests: list[tuple[str, str]] = []  # (method, path) in order, for assertions
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self.issuer = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> OIDCProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "email",
                "email_verified",
                "name",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
            ],
        }

    def claims_for(self, email: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        local = email.split("@")[0]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": hashlib.sha256(email.encode()).hexdigest()[:24],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 600,
            "email": email,
            "email_verified": True,
            "name": local.replace(".", " ").title(),
        }
        if nonce:
            claims["nonce"] = nonce
        claims.update(self.extra_claims.get(email, {}))
        return claims

    # -- protocol -------------------------------------------------------------------------------------------

    def _authorize_error(self, q: dict[str, str]) -> str:
        if q.get("client_id") != self.client_id:
            return "unknown client_id"
        if q.get("redirect_uri") not in self.redirect_uris:
            return "redirect_uri is not registered for this client"
        if q.get("response_type") != "code":
            return "only response_type=code is supported"
        if "openid" not in q.get("scope", "").split():
            return "scope must include openid"
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return "only S256 code challenges are supported"
        return ""

    def _issue_code(self, q: dict[str, str], email: str) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                client_id=q["client_id"],
                redirect_uri=q["redirect_uri"],
                email=email,
                nonce=q.get("nonce") or None,
                code_challenge=q.get("code_challenge") or None,
                scope=q.get("scope", ""),
            )
        return code

    def _token(self, form: dict[str, str], auth_header: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(dict(form))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if auth_header and auth_header.lower().startswith("basic "):
            raw = base64.b64decode(auth_header[6:]).decode()
            client_id, _, client_secret = raw.partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # one use only
        if grant is None or time.time() - grant.issued > 120:
            return 400, {"error": "invalid_grant"}
        if grant.client_id != client_id or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        if grant.code_challenge:
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        claims = self.claims_for(grant.email, grant.nonce)
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access_token] = {k: v for k, v in claims.items() if k not in ("aud", "nonce")}
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": id_token,
            "scope": grant.scope,
        }

    # -- HTTP -----------------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def _send(
                self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, obj: Any) -> None:
                self._send(status, json.dumps(obj).encode(), "application/json")

            def _redirect(self, url: str) -> None:
                self._send(302, b"", "text/plain", {"Location": url})

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

            def do_GET(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                provider.requests.append(("GET", url.path))
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    problem = provider._authorize_error(q)
                    if problem:
                        self._send(400, html.escape(problem).encode(), "text/plain")
                        return
                    hidden = "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in q.items()
                    )
                    page = (
                        "<!doctype html><html><head><title>Test identity provider</title></head><body>"
                        "<h1>Test identity provider</h1>"
                        f'<form method="post" action="/authorize">{hidden}'
                        '<label>Email <input name="login_email" type="email" autocomplete="off"></label>'
                        '<button type="submit">Continue</button></form></body></html>'
                    )
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                elif url.path == "/userinfo":
                    token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                    claims = provider._tokens.get(token)
                    if claims is None:
                        self._json(401, {"error": "invalid_token"})
                    else:
                        self._json(200, claims)
                elif url.path == "/logout":
                    target = q.get("post_logout_redirect_uri", "")
                    if target in provider.redirect_uris:
                        self._redirect(target)
                    else:
                        self._send(200, b"signed out", "text/plain")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                url = urlparse(self.path)
                provider.requests.append(("POST", url.path))
                form = self._form()
                if url.path == "/authorize":
                    problem = provider._authorize_error(form)
                    email = form.pop("login_email", "").strip()
                    if problem or not email:
                        self._send(400, html.escape(problem or "email required").encode(), "text/plain")
                        return
                    code = provider._issue_code(form, email)
                    params = {"code": code, **({"state": form["state"]} if form.get("state") else {})}
                    self._redirect(f"{form['redirect_uri']}?{urlencode(params)}")
                elif url.path == "/token":
                    status, body = provider._token(form, self.headers.get("Authorization"))
                    self._json(status, body)
                else:
                    self._send(404, b"not found", "text/plain")

        return Handler
