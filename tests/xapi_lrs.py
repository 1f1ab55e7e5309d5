"""A small Learning Record Store for the tests: a real HTTP server on loopback, in a thread.

It takes ``POST /statements`` (one statement or an array) as an LRS does, checks every statement
against the xAPI 1.0.3 rules the platform's statements must meet (required properties, UUID ids,
actor with exactly one identifier, verb and object IRIs, language maps, score ranges, timestamp
format, no duplicate ids in a batch) and keeps them by id. It can be told to answer 5xx for the
next requests, to refuse connections (stopped), and to answer 409 Conflict when a batch holds ids
it already has (storing nothing of that batch, which the spec allows).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
                  "version", "attachments"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


class Invalid(ValueError):
    pass


def _check(condition, message: str) -> None:
    if not condition:
        raise Invalid(message)


def _language_map(value, where: str) -> None:
    _check(isinstance(value, dict) and value, f"{where} must be a non-empty language map")
    for key, text in value.items():
        _check(re.match(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$", key), f"{where}: bad language tag {key!r}")
        _check(isinstance(text, str), f"{where}: values must be strings")


def _uuid(value, where: str) -> None:
    try:
        _check(isinstance(value, str) and str(uuid.UUID(value)) == value.lower(), f"{where} must be a UUID")
    except ValueError as exc:
        raise Invalid(f"{where} must be a UUID") from exc


def _activity(value, where: str) -> None:
    _check(isinstance(value, dict), f"{where} must be an object")
    _check(value.get("objectType", "Activity") == "Activity", f"{where}.objectType must be Activity")
    _check(isinstance(value.get("id"), str) and IRI.match(value["id"]), f"{where}.id must be an IRI")
    definition = value.get("definition")
    if definition is not None:
        _check(set(definition) <= {"name", "description", "type", "moreInfo", "extensions"},
               f"{where}.definition has unknown properties")
        if "type" in definition:
            _check(IRI.match(definition["type"]), f"{where}.definition.type must be an IRI")
        if "name" in definition:
            _language_map(definition["name"], f"{where}.definition.name")
        if "moreInfo" in definition:
            _check(IRI.match(definition["moreInfo"]), f"{where}.definition.moreInfo must be an IRL")


def validate(statement) -> None:
    """Raise ``Invalid`` unless the statement meets the xAPI 1.0.3 rules the platform relies on."""
    _check(isinstance(statement, dict), "a statement must be an object")
    _check(set(statement) <= STATEMENT_KEYS, f"unknown properties {sorted(set(statement) - STATEMENT_KEYS)}")
    for key in ("id", "actor", "verb", "object", "timestamp"):
        _check(key in statement, f"missing {key}")
    _uuid(statement["id"], "id")
    actor = statement["actor"]
    _check(isinstance(actor, dict) and actor.get("objectType", "Agent") == "Agent", "actor must be an Agent")
    ifis = [key for key in IFIS if key in actor]
    _check(len(ifis) == 1, "actor must have exactly one inverse functional identifier")
    if "mbox" in actor:
        _check(re.match(r"^mailto:[^@\s]+@[^@\s]+$", actor["mbox"]), "actor.mbox must be a mailto: IRI")
    if "account" in actor:
        account = actor["account"]
        _check(isinstance(account, dict) and set(account) == {"homePage", "name"}, "actor.account needs homePage and name")
        _check(IRI.match(account["homePage"]) and account["name"], "actor.account is malformed")
    verb = statement["verb"]
    _check(isinstance(verb, dict) and IRI.match(verb.get("id", "")), "verb.id must be an IRI")
    if "display" in verb:
        _language_map(verb["display"], "verb.display")
    _activity(statement["object"], "object")
    result = statement.get("result")
    if result is not None:
        _check(set(result) <= {"score", "success", "completion", "response", "duration", "extensions"},
               "result has unknown properties")
        score = result.get("score")
        if score is not None:
            _check(-1 <= score.get("scaled", 0) <= 1, "result.score.scaled must be within -1..1")
            if "raw" in score:
                _check(score.get("min", score["raw"]) <= score["raw"] <= score.get("max", score["raw"]),
                       "result.score.raw must be within min..max")
        for key in ("success", "completion"):
            if key in result:
                _check(isinstance(result[key], bool), f"result.{key} must be a boolean")
    context = statement.get("context")
    if context is not None:
        _check(set(context) <= {"registration", "instructor", "team", "contextActivities", "revision", "platform",
                                "language", "statement", "extensions"}, "context has unknown properties")
        if "registration" in context:
            _uuid(context["registration"], "context.registration")
        for kind, activities in (context.get("contextActivities") or {}).items():
            _check(kind in {"parent", "grouping", "category", "other"}, f"unknown contextActivities {kind}")
            for item in activities if isinstance(activities, list) else [activities]:
                _activity(item, f"context.contextActivities.{kind}")
    _check(isinstance(statement["timestamp"], str) and TIMESTAMP.match(statement["timestamp"]),
           "timestamp must be ISO 8601 with a time zone")


class LocalLRS:
    """The server and what it received; ``endpoint`` is what ``XAPI_ENDPOINT`` is set to."""

    def __init__(self, username: str = "lrs-user", password: str = "lrs-secret") -> None:
        self.username, self.password = username, password
        self.statements: dict[str, dict] = {}
        self.posts: list[int] = []  # the size of each accepted POST
        self.errors: list[str] = []  # statements refused as invalid (a test expects none)
        self.fail_next = 0  # answer 503 to this many requests
        self.refuse_ids: set[str] = set()  # answer 400 to a batch holding one of these ids
        self.conflict_on_known = False  # answer 409 to a batch holding known ids (storing none of it)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xapi"

    def start(self) -> LocalLRS:
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body=None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with lrs.lock:
                    status, body = lrs.receive(self.path, dict(self.headers), raw)
                self._answer(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: requests are refused until ``start`` again (on the same port)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def receive(self, path: str, headers: dict, raw: bytes) -> tuple[int, object]:
        headers = {k.lower(): v for k, v in headers.items()}
        if path != "/xapi/statements":
            return 404, {"error": "no such resource"}
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if headers.get("authorization") != expected:
            return 401, {"error": "unauthorised"}
        if not headers.get("x-experience-api-version", "").startswith("1.0"):
            return 400, {"error": "X-Experience-API-Version header missing"}
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"error": "temporarily unavailable"}
        try:
            body = json.loads(raw)
            batch = body if isinstance(body, list) else [body]
            ids = [s.get("id") if isinstance(s, dict) else None for s in batch]
            _check(len(set(ids)) == len(ids), "duplicate statement ids in one batch")
            for statement in batch:
                validate(statement)
        except (ValueError, Invalid) as exc:
            self.errors.append(str(exc))
            return 400, {"error": str(exc)}
        if self.refuse_ids & set(ids):
            return 400, {"error": f"refused: {sorted(self.refuse_ids & set(ids))}"}
        known = [i for i in ids if i in self.statements]
        if known and self.conflict_on_known:
            return 409, {"error": f"statements already stored: {known}"}
        for statement in batch:
            self.statements.setdefault(statement["id"], statement)  # a known id changes nothing
        self.posts.append(len(batch))
        return 200, ids
