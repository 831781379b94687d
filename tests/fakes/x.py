"""X API v2: OAuth 2 authorisation code + PKCE (authorize, token, refresh), POST /2/tweets, GET /2/users/me."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tests.fakes.base import FakeService, Request, Response, json_response


def problem(status: int, title: str, detail: str, type_: str = "about:blank", headers=None) -> Response:
    return json_response(status, {"title": title, "detail": detail, "type": type_, "status": status}, headers)


def rate_limited() -> Response:
    return problem(
        429,
        "Too Many Requests",
        "Too Many Requests",
        headers={
            "x-rate-limit-limit": "200",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(time.time()) + 1),
        },
    )


@dataclass
class App:
    client_id: str
    client_secret: str | None
    redirect_uris: set[str] = field(default_factory=set)


@dataclass
class Grant:
    app: App
    user: str
    scope: str
    challenge: str
    redirect_uri: str


class FakeX(FakeService):
    name = "x"

    def __init__(self) -> None:
        super().__init__()
        self.apps: dict[str, App] = {}
        self.expires_in = 7200
        self.codes: dict[str, Grant] = {}
        self.access: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self.refresh: dict[str, Grant] = {}
        self.app_only: set[str] = set()
        self.posts: list[dict] = []

    def add_app(self, *, confidential: bool = True) -> App:
        app = App("cl-" + secrets.token_hex(8), secrets.token_urlsafe(24) if confidential else None)
        self.apps[app.client_id] = app
        return app

    def posts_by(self, user: str) -> list[dict]:
        return [p for p in self.posts if p["user"] == user]

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("GET", "/i/oauth2/authorize"):
            return self._authorize(request)
        if route == ("POST", "/2/oauth2/token"):
            return self._token(request)
        user = self._user(request)
        if isinstance(user, Response):
            return user
        if route == ("GET", "/2/users/me"):
            return json_response(200, {"data": {"id": str(abs(hash(user)) % 10**12), "name": user, "username": user}})
        if route == ("POST", "/2/tweets"):
            return self._post(user, request)
        return problem(404, "Not Found Error", f"{request.path} does not exist")

    def _authorize(self, request: Request) -> Response:
        q = {k: v[0] for k, v in request.query.items()}
        app = self.apps.get(q.get("client_id", ""))
        if app is None or q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return Response(
                400, {"Content-Type": "text/html"}, "Something went wrong. You weren't able to give access to the App."
            )
        code = secrets.token_urlsafe(24)
        self.codes[code] = Grant(
            app, q.get("login_hint", "flowyard_shop"), q.get("scope", ""), q["code_challenge"], q["redirect_uri"]
        )
        return Response(302, {"Location": f"{q['redirect_uri']}?{urlencode({'state': q['state'], 'code': code})}"})

    def _client(self, request: Request, form: dict[str, str]) -> App | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme == "Basic":
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            app = self.apps.get(client_id)
            return app if app and app.client_secret == secret else None
        app = self.apps.get(form.get("client_id", ""))
        return app if app and app.client_secret is None else None

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in request.form().items()}
        app = self._client(request, form)
        if app is None:
            return json_response(
                401, {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
            )
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if (
                grant is None
                or grant.app is not app
                or grant.redirect_uri != form.get("redirect_uri")
                or grant.challenge != challenge
            ):
                return json_response(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the authorization code was invalid.",
                    },
                )
        elif form.get("grant_type") == "refresh_token":
            grant = self.refresh.pop(form.get("refresh_token", ""), None)  # rotated: each refresh token works once
            if grant is None or grant.app is not app:
                return json_response(
                    400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
                )
        else:
            return json_response(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type not supported"}
            )
        access = secrets.token_urlsafe(32)
        self.access[access] = (grant.user, time.time() + self.expires_in)
        body = {"token_type": "bearer", "access_token": access, "expires_in": self.expires_in, "scope": grant.scope}
        if "offline.access" in grant.scope.split():
            body["refresh_token"] = secrets.token_urlsafe(32)
            self.refresh[body["refresh_token"]] = grant
        return json_response(200, body)

    def _user(self, request: Request) -> str | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if token in self.app_only:
            return problem(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden "
                "for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 "
                "User Context].",
                "https://api.twitter.com/2/problems/unsupported-authentication",
            )
        user, expires = self.access.get(token, (None, 0))
        if scheme != "Bearer" or user is None or expires < time.time():
            return problem(401, "Unauthorized", "Unauthorized")
        return user

    def _post(self, user: str, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            body = None
        text = (body or {}).get("text") if isinstance(body, dict) else None
        if not text:
            return json_response(
                400,
                {
                    "errors": [{"parameters": {"text": []}, "message": "Requires text or media"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            )
        if len(text) > 280:
            return problem(
                400,
                "Invalid Request",
                "Your Tweet text is too long.",
                "https://api.twitter.com/2/problems/invalid-request",
            )
        if any(p["text"] == text for p in self.posts_by(user)):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        post_id = str(10**18 + len(self.posts))
        self.posts.append({"id": post_id, "text": text, "user": user})
        headers = {
            "x-rate-limit-limit": "200",
            "x-rate-limit-remaining": str(200 - len(self.posts_by(user))),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }
        return json_response(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}, headers)
