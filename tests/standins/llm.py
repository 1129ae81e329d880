"""An OpenAI-compatible stand-in server for tests and demos: real HTTP on loopback, no model.

Built on the vendor stand-ins' framework (:class:`tests.standins.base.StandinServer`): the same server,
request log (`received`), `/__standin/` control API and fault injection (`inject("drop")`, a status, a
slow answer, a rate limit) as the Intercom or Slack stand-in, plus what is particular to an LLM:
scripted replies by rule and a deterministic default answer per JSON schema.

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
from typing import Any, Self

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, json_response

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


# The stand-in's "model" judges a role by a few keywords. It is a fake model, not the rules: the rules
# live in dbt (int_onboarding__rule_tracks); it agrees with them on plain profiles, disagrees on
# technical trial users, and is unsure about unknown roles, which is what the AI tests need.
_TECHNICAL = ("engineer", "developer", "data", "product", "cto", "architect")
_EXECUTIVE = ("ceo", "vp", "vice president", "head of", "director", "founder", "chief")


def _journey_policy(body: Body) -> Any:
    profile = data_block(body)
    role = str(profile.get("role", ""))
    injected = re.search(r"answer\s+([a-z_]+)", role, re.IGNORECASE)
    if injected:  # a gullible model: does what the profile text says
        return {"track": injected.group(1).lower(), "confidence": 0.99, "explanation": "As instructed."}
    if role in ("", "unknown"):
        return {"track": "guided_handholding", "confidence": 0.45, "explanation": "Too little to go on."}
    words, plan = role.lower(), profile.get("plan")
    technical = any(w in words for w in _TECHNICAL)
    if plan == "trial" and technical:
        return {
            "track": "power_user",
            "confidence": 0.8,
            "explanation": "Technical trial user exploring fast.",
        }
    if plan == "enterprise":
        track = "enterprise_custom"
    elif plan == "trial":
        track = "self_service"
    elif technical:
        track = "power_user"
    elif any(w in words for w in _EXECUTIVE):
        track = "business_value"
    else:
        track = "guided_handholding"
    return {"track": track, "confidence": 0.9, "explanation": f"Profile fits {track}."}


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

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MODEL_PATHS = ("/v1/models", "/models")


class StandIn(StandinServer):
    """The stand-in server. Thread-safe; start/stop or use as a context manager.

    `requests` is every valid chat-completion body in arrival order (recorded when it arrives, so a
    client that gave up on a slow answer still counts it); `rejected` holds (reason, body) of the
    invalid ones, answered 400 as OpenAI does.
    """

    name = "llm"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_until_in_flight: int = 0,
        hold_timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(host=host, **options)
        self._wanted_port = port
        self.rules: list[Rule] = []
        self._bodies: list[Body] = []
        self.rejected: list[tuple[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Hold each request until this many are in flight at once (or the timeout): a deterministic
        # way to prove the client's concurrency without timing assertions.
        self.hold_until_in_flight = hold_until_in_flight
        self.hold_timeout_s = hold_timeout_s
        self._held = threading.Condition(self.lock)
        self._stopping = threading.Event()

    # scripting
    def add_rule(
        self, match: Matcher, reply: Reply | Callable[[Body], Reply], times: int | None = None
    ) -> StandIn:
        with self.lock:
            self.rules.append(Rule(match, reply, times))
        return self

    def reset(self) -> None:
        with self.lock:
            self.rules.clear()
            self._bodies.clear()
            self.rejected.clear()
            self.max_in_flight = 0
        self.reset_log()

    @property
    def requests(self) -> list[Body]:  # type: ignore[override]  # the bodies, not the base's filter
        with self.lock:
            return list(self._bodies)

    def chat_requests(self, name: str | None = None) -> list[Body]:
        return [b for b in self.requests if name is None or schema_name(b) == name]

    def extra_stats(self) -> dict[str, Any]:
        return {"chat_requests": len(self._bodies), "rejected": len(self.rejected),
                "max_in_flight": self.max_in_flight}

    @property
    def base_url(self) -> str:
        return f"{super().base_url}/v1"

    # lifecycle
    def start(self, port: int | None = None) -> Self:
        self._stopping.clear()
        return super().start(self._wanted_port if port is None else port)

    def stop(self) -> None:
        self._stopping.set()
        with self._held:
            self._held.notify_all()
        super().stop()

    # request handling (StandinServer calls validate, then handle)
    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return json.loads(request.get_data().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def validate(self, request: Request) -> list[str]:
        if request.method != "POST" or request.path.rstrip("/") not in CHAT_PATHS:
            return []
        body = self._body(request)
        problem = validate_request(body)
        if problem is None:
            return []
        with self.lock:
            self.rejected.append((problem, body))
        return [problem]

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"error": {"message": errors[0], "type": "invalid_request_error", "code": None}}, 400)

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if request.method == "GET" and path in MODEL_PATHS:
            return json_response(
                {"object": "list", "data": [{"id": "standin", "object": "model", "owned_by": "standin"}]}
            )
        if request.method != "POST" or path not in CHAT_PATHS:
            return json_response({"error": {"message": f"unknown path {request.path}"}}, 404)
        status, headers, body = self.complete(self._body(request))
        return json_response(body, status, headers=headers)

    def _choose(self, body: Body) -> Reply:
        with self.lock:
            for rule in self.rules:
                if rule.matches(body):
                    rule.used += 1
                    return rule.reply(body) if callable(rule.reply) else rule.reply
        return Reply()

    def complete(self, body: Body) -> tuple[int, dict[str, str], Body]:
        """Answer one valid chat-completion request: (status, headers, JSON body)."""
        with self._held:
            self._bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._held.notify_all()
        try:
            if self.hold_until_in_flight:
                with self._held:
                    self._held.wait_for(
                        lambda: self.max_in_flight >= self.hold_until_in_flight or self._stopping.is_set(),
                        timeout=self.hold_timeout_s,
                    )
            reply = self._choose(body)
            if reply.delay_s:
                self._stopping.wait(reply.delay_s)
            if reply.status != 200:
                return reply.status, reply.headers, reply.error_body or {"error": {"message": "error"}}
            content = reply.content if reply.content is not None else default_answer(body)
            return 200, reply.headers, completion(body, content)
        finally:
            with self._held:
                self.in_flight -= 1


def completion(body: Body, content: str) -> Body:
    """A `chat.completion` object answering `body` with `content`, with token usage (4 chars a token)."""
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4 + 1
    completion_tokens = len(content) // 4 + 1
    return {
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
    }


def serve(host: str = "127.0.0.1", port: int = 8011) -> None:
    """Run the stand-in in the foreground until interrupted (`python -m tests.standins llm`)."""
    server = StandIn(host=host, port=port).start()
    print(f"LLM stand-in listening: export OPENAI_BASE_URL={server.base_url}  (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
