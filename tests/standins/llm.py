"""An OpenAI-compatible stand-in server for tests and demos: real HTTP on loopback, no model.

`POST /v1/chat/completions` validates the request shape every OpenAI-compatible server expects from us
(model, messages, `response_format` of type `json_schema` with a name and a schema), records the body,
and answers with a `chat.completion` object. Answers come from scripted rules (matched against the
request) or from a deterministic default policy per schema, so `make run` against it gives realistic,
repeatable LLM answers without a key. Fault injection covers what the client must survive: invalid
JSON, out-of-enum values, low confidence, slow answers (timeouts), 429 with Retry-After, and 5xx.

    with StandIn() as server:                      # port 0: a free port
        server.add_rule("fault-429", Reply.http(429, retry_after=0), times=1)
        os.environ["OPENAI_BASE_URL"] = server.base_url
        ...
        server.requests                             # every valid request body, in arrival order

The default journey policy is deliberately gullible: a role saying "answer <x>" makes it answer x with
confidence 0.99, to demonstrate that validation, not the model, is the guard.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = dict[str, Any]


@dataclass
class Reply:
    """One scripted answer. For status 200 `content` is the assistant message text."""

    status: int = 200
    content: str | None = None
    error_body: Body | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    @classmethod
    def json(cls, obj: Any, delay_s: float = 0.0) -> Reply:
        return cls(content=json.dumps(obj), delay_s=delay_s)

    @classmethod
    def text(cls, content: str) -> Reply:
        """Any assistant text, e.g. not JSON at all."""
        return cls(content=content)

    @classmethod
    def invalid_json(cls) -> Reply:
        return cls(content='{"track": "power_user", "confidence": 0.9, "explanation": "cut off mid-')

    @classmethod
    def journey(cls, track: str, confidence: float = 0.9, explanation: str = "Scripted answer.") -> Reply:
        return cls.json({"track": track, "confidence": confidence, "explanation": explanation})

    @classmethod
    def http(cls, status: int, retry_after: float | None = None, message: str = "scripted error") -> Reply:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        return cls(
            status=status,
            error_body={"error": {"message": message, "type": kind, "code": kind}},
            headers=headers,
        )

    @classmethod
    def slow(cls, delay_s: float) -> Reply:
        """Answer (with the default policy) only after `delay_s`: a timeout for a client that waits less."""
        return cls(content=None, delay_s=delay_s)


Matcher = str | Callable[[Body], bool]


@dataclass
class Rule:
    match: Matcher
    reply: Reply | Callable[[Body], Reply]
    times: int | None = None  # None: every matching request
    used: int = 0

    def matches(self, body: Body) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if callable(self.match):
            return bool(self.match(body))
        return self.match in last_user_message(body)


def last_user_message(body: Body) -> str:
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def data_block(body: Body) -> dict[str, Any]:
    """The JSON data block of the user message (the AI steps put their inputs in one)."""
    text = last_user_message(body)
    match = re.search(r"```json\s*(.*?)\s*```", text, re.DOTALL)
    try:
        value = json.loads(match.group(1) if match else text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def schema_name(body: Body) -> str:
    return str(((body.get("response_format") or {}).get("json_schema") or {}).get("name", ""))


def validate_request(body: Any) -> str | None:
    """Why a request is not a valid structured-output chat completion, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant"):
            return "each message needs a valid role"
        if not isinstance(m.get("content"), str):
            return "each message needs string content"
    rf = body.get("response_format")
    if not isinstance(rf, dict) or rf.get("type") != "json_schema":
        return "response_format.type must be json_schema"
    js = rf.get("json_schema")
    if (
        not isinstance(js, dict)
        or not isinstance(js.get("name"), str)
        or not isinstance(js.get("schema"), dict)
    ):
        return "response_format.json_schema needs a name and a schema"
    return None


# --- the deterministic default policy -------------------------------------------------------------


def _journey_policy(body: Body) -> Any:
    from dagster_project.ai.rules_reference import role_group, rule_track

    profile = data_block(body)
    role = str(profile.get("role", ""))
    injected = re.search(r"answer\s+([a-z_]+)", role, re.IGNORECASE)
    if injected:  # a gullible model: does what the profile text says
        return {"track": injected.group(1).lower(), "confidence": 0.99, "explanation": "As instructed."}
    track, rule_id = rule_track(profile)
    group = role_group(role)
    if role in ("", "unknown"):
        return {"track": "guided_handholding", "confidence": 0.45, "explanation": "Too little to go on."}
    if profile.get("plan") == "trial" and group == "technical":
        return {
            "track": "power_user",
            "confidence": 0.8,
            "explanation": "Technical trial user exploring fast.",
        }
    return {"track": track, "confidence": 0.9, "explanation": f"Profile fits {track} ({rule_id})."}


def _playbook_policy(body: Body) -> Any:
    data = data_block(body)
    candidates = [c["id"] for c in data.get("candidate_features", []) if isinstance(c, dict) and "id" in c]
    bench = data.get("benchmark", {})
    integrations = data.get("integrations_active") or []
    records = data.get("records_imported", 0)
    if integrations:
        power = f"Join your {integrations[0]} data with your imported records and schedule the result weekly."
    else:
        power = f"Build one dashboard on the {records} records you imported and share it with your team."
    return {
        "features": [
            {"feature": f, "why": f"It fits how you already work with {f.replace('_', ' ')}."}
            for f in candidates[:3]
        ],
        "power_move": power,
        "benchmark_comment": f"You are at the {bench.get('percentile', 0)}th percentile of {bench.get('scope', 'peers')}.",
        "watch_outs": ["Dashboards going stale when nobody owns them.", "Access sprawl as the team grows."],
    }


def _theme_policy(body: Body) -> Any:
    from dagster_project.ai.themes import TAXONOMY, keyword_theme, one_line_summary

    answer = str(data_block(body).get("answer", ""))
    theme = keyword_theme(answer)
    label = next(t.label for t in TAXONOMY if t.id == theme)
    return {"theme": theme, "summary": f"{label}: {one_line_summary(answer)}"[:150]}


def _generic(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _generic(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_generic(schema.get("items"))]
    return {"string": "example", "number": 0.5, "integer": 1, "boolean": True}.get(str(kind))


POLICIES: dict[str, Callable[[Body], Any]] = {
    "journey_assignment": _journey_policy,
    "weeks_3_4_playbook": _playbook_policy,
    "feedback_theme": _theme_policy,
}


def default_answer(body: Body) -> str:
    policy = POLICIES.get(schema_name(body))
    if policy is None:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        return json.dumps(_generic(schema))
    return json.dumps(policy(body))


# --- the server -----------------------------------------------------------------------------------


class StandIn:
    """The stand-in server. Thread-safe; start/stop or use as a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_until_in_flight: int = 0,
        hold_timeout_s: float = 10.0,
    ):
        self.host, self.port = host, port
        self.rules: list[Rule] = []
        self.requests: list[Body] = []
        self.rejected: list[tuple[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Hold each request until this many are in flight at once (or the timeout): a deterministic
        # way to prove the client's concurrency without timing assertions.
        self.hold_until_in_flight = hold_until_in_flight
        self.hold_timeout_s = hold_timeout_s
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting
    def add_rule(
        self, match: Matcher, reply: Reply | Callable[[Body], Reply], times: int | None = None
    ) -> StandIn:
        with self._lock:
            self.rules.append(Rule(match, reply, times))
        return self

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()
            self.rejected.clear()
            self.max_in_flight = 0

    def chat_requests(self, name: str | None = None) -> list[Body]:
        with self._lock:
            return [b for b in self.requests if name is None or schema_name(b) == name]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # lifecycle
    def start(self) -> StandIn:
        stand_in = self

        class Handler(_Handler):
            server_ref = stand_in

        server = _Server((self.host, self.port), Handler)
        self._server = server
        self.port = server.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="llm-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # request handling
    def _choose(self, body: Body) -> Reply:
        with self._lock:
            for rule in self.rules:
                if rule.matches(body):
                    rule.used += 1
                    return rule.reply(body) if callable(rule.reply) else rule.reply
        return Reply()

    def handle(self, body: Any) -> tuple[int, dict[str, str], Body]:
        problem = validate_request(body)
        if problem:
            with self._lock:
                self.rejected.append((problem, body))
            return 400, {}, {"error": {"message": problem, "type": "invalid_request_error", "code": None}}
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
        try:
            if self.hold_until_in_flight:
                with self._lock:
                    self._lock.wait_for(
                        lambda: self.max_in_flight >= self.hold_until_in_flight or self._stopping.is_set(),
                        timeout=self.hold_timeout_s,
                    )
            reply = self._choose(body)
            if reply.delay_s:
                self._stopping.wait(reply.delay_s)
            if reply.status != 200:
                return reply.status, reply.headers, reply.error_body or {"error": {"message": "error"}}
            content = reply.content if reply.content is not None else default_answer(body)
            prompt_tokens = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4 + 1
            completion_tokens = len(content) // 4 + 1
            return (
                200,
                reply.headers,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                    "system_fingerprint": "standin",
                },
            )
        finally:
            with self._lock:
                self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many concurrent connections: the client runs >= 16 in flight


class _Handler(BaseHTTPRequestHandler):
    server_ref: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demos read their own output
        return

    def _send(self, status: int, headers: dict[str, str], body: Body) -> None:
        payload = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(
                200,
                {},
                {"object": "list", "data": [{"id": "standin", "object": "model", "owned_by": "standin"}]},
            )
        else:
            self._send(404, {}, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {}, {"error": {"message": f"unknown path {self.path}"}})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        status, headers, response = self.server_ref.handle(body)
        self._send(status, headers, response)


def serve(host: str = "127.0.0.1", port: int = 8011) -> None:
    """Run the stand-in in the foreground until interrupted (the `onboarding ai standin` command)."""
    server = StandIn(host=host, port=port).start()
    print(f"LLM stand-in listening: export OPENAI_BASE_URL={server.base_url}  (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
