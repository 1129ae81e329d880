"""A loopback HTTP stand-in for a vendor API: real sockets, request validation, fault injection.

The one framework of every stand-in: the four vendors of the sync and the OpenAI-compatible LLM
server of the AI steps (`tests/standins/llm.py`) are subclasses of :class:`StandinServer`.

Why real HTTP rather than mocking httpx: the guarantees under test (a 429 honoured, a dropped
connection turning a customer message ``in_doubt``, a SIGKILLed process not resending) live in the
transport and in the timing between a request and the ledger commit. Only a real server on 127.0.0.1
exercises them.

Each stand-in
* validates every request against the vendor's published contract (subclasses implement
  :meth:`StandinServer.validate`); a violation is answered 400 and recorded in
  :attr:`StandinServer.validation_errors`, so a test can assert the sync never sent one;
* records every request (:attr:`received`) and keeps the vendor-side state it created (contacts,
  messages, posts...), so a test can count deliveries;
* injects faults on command - :meth:`inject` from Python, or ``POST /__standin/faults`` over HTTP when
  the stand-in runs in another process (``python -m tests.standins``): a status (429 with headers,
  500...), a dropped connection before or *after* the request was processed, a slow answer, and for
  Slack an ``ok: false`` error;
* can add a constant latency and enforce a fixed-window rate limit (Intercom style) itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import unquote_to_bytes

from werkzeug.wrappers import Request, Response

FaultKind = Literal["status", "drop", "drop_after", "slow", "slack_error", "status_after", "slow_after"]


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``times`` matching requests.

    ``match`` is a substring of ``"METHOD /path"`` (e.g. ``"POST /messages"``); ``None`` matches all.
    ``drop`` closes the connection before the request is processed (nothing happened remotely);
    ``drop_after`` processes it and then closes the connection without answering (it *did* happen);
    ``slow`` waits ``delay`` seconds and then processes normally.
    ``status_after`` processes the request (the message *is* created) and then answers ``status``
    instead of the real answer - a 500/502/504 from a vendor or gateway that acted anyway;
    ``slow_after`` processes it and then waits ``delay`` seconds before answering (a client timeout
    after the vendor acted).
    """

    kind: FaultKind
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    error: str = "ratelimited"
    match: str | None = None


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    form: dict[str, str]
    status: int | None
    fault: str | None
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    """A small HTTP/1.1 server with keep-alive that hands each request to a WSGI app.

    Why not werkzeug's development server: it closes the connection after every answer, so each
    request pays a TCP handshake and a new thread, and Nagle's algorithm adds ~40 ms on top. Real
    vendor APIs keep connections alive; the benchmark must measure the sync, not the stand-in.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections are closed after this
    app: Any = None

    def log_message(self, format: str, *args: Any) -> None:  # no access log
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        status_headers: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_headers[:] = [status, headers]
            return lambda data: None

        chunks = b"".join(self.app(environ, start_response))
        if environ.get("standin.dropped"):
            self.close_connection = True
            return
        status, headers = status_headers
        code, _, reason = status.partition(" ")
        try:
            self.send_response(int(code), reason)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(chunks)))
            self.end_headers()
            self.wfile.write(chunks)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout test)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class StandinServer:
    """Base class; subclasses implement :meth:`validate` and :meth:`handle`."""

    name = "standin"

    def __init__(self, *, latency: float = 0.0, validate: bool = True,
                 rate_limit: tuple[int, float] | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.latency = latency
        self.validate_requests = validate
        self.rate_limit = rate_limit
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        self.received: list[Received] = []
        self.validation_errors: list[str] = []
        self.rate_limited = 0
        self._window: int | None = None
        self._window_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> Self:
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"app": staticmethod(self._wsgi)})
        self._server = _Server((self.host, port), handler)
        # A short poll interval keeps stop() fast (tests start and stop many stand-ins).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.name}-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------------------- control API
    def inject(self, kind: FaultKind | Fault, times: int = 1, **kwargs: Any) -> None:
        fault = kind if isinstance(kind, Fault) else Fault(kind=kind, times=times, **kwargs)
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults_left(self) -> int:
        with self.lock:
            return sum(f.times for f in self._faults)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Received]:
        """Recorded requests, optionally filtered by method and path prefix."""
        with self.lock:
            return [r for r in self.received
                    if (method is None or r.method == method) and (path is None or r.path.startswith(path))]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            times = [r.at for r in self.received]
            by_status: dict[str, int] = {}
            for r in self.received:
                by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
            return {
                "requests": len(self.received),
                "writes": sum(1 for r in self.received if r.method in ("POST", "PUT", "PATCH", "DELETE")),
                "first_at": min(times) if times else None,
                "last_at": max(times) if times else None,
                "by_status": by_status,
                "rate_limited": self.rate_limited,
                "validation_errors": list(self.validation_errors),
                **self.extra_stats(),
            }

    def extra_stats(self) -> dict[str, Any]:
        return {}

    def reset_log(self) -> None:
        with self.lock:
            self.received.clear()
            self.validation_errors.clear()
            self.rate_limited = 0

    # ------------------------------------------------------------------------ for subclasses
    def validate(self, request: Request) -> list[str]:
        """Return contract violations of ``request`` (empty when valid)."""
        return []

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"error": "invalid_request", "details": errors}, 400)

    # ------------------------------------------------------------------------------- internals
    def _take_fault(self, signature: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.times > 0 and (fault.match is None or fault.match in signature):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _rate_limited(self) -> Response | None:
        if self.rate_limit is None:
            return None
        limit, window = self.rate_limit
        now = time.time()
        with self.lock:
            current = int(now // window)
            if current != self._window:
                self._window, self._window_count = current, 0
            self._window_count += 1
            if self._window_count <= limit:
                return None
            self.rate_limited += 1
        reset = int((current + 1) * window)
        return json_response(
            {"type": "error.list", "errors": [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit"}]},
            429, headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": str(reset)})

    def _control(self, request: Request) -> Response:
        action = request.path.removeprefix("/__standin/")
        if action == "faults" and request.method == "POST":
            spec = request.get_json(force=True)
            self.inject(Fault(**spec))
            return json_response({"ok": True})
        if action == "faults" and request.method == "DELETE":
            self.clear_faults()
            return json_response({"ok": True})
        if action == "stats":
            return json_response(self.stats())
        if action == "requests":
            with self.lock:
                return json_response([asdict(r) for r in self.received])
        if action == "reset_log" and request.method == "POST":
            self.reset_log()
            return json_response({"ok": True})
        return json_response({"error": "unknown control action"}, 404)

    def _record(self, request: Request, status: int | None, fault: str | None) -> None:
        try:
            body = request.get_json(silent=True)
        except Exception:
            body = None
        with self.lock:
            self.received.append(Received(
                method=request.method, path=request.path, query=dict(request.args), json=body,
                form=dict(request.form), status=status, fault=fault, at=time.time()))

    @staticmethod
    def _drop(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        environ["standin.dropped"] = True
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/__standin/"):
            return self._control(request)(environ, start_response)
        request.get_data()  # read the body now: a dropped connection must not lose what was sent
        signature = f"{request.method} {request.path}"
        limited = self._rate_limited()  # counted on arrival, like the vendor's window
        fault = None if limited is not None else self._take_fault(signature)
        if self.latency:
            time.sleep(self.latency)
        if limited is not None:
            self._record(request, 429, "rate_limit")
            return limited(environ, start_response)
        if fault is not None and fault.kind == "drop":
            self._record(request, None, "drop")
            self._drop(environ)
            start_response("200 OK", [])
            return []
        if fault is not None and fault.kind == "status":
            self._record(request, fault.status, "status")
            body = fault.body if fault.body is not None else {"type": "error.list", "errors": [
                {"code": "injected", "message": f"injected {fault.status}"}]}
            return json_response(body, fault.status, headers=fault.headers)(environ, start_response)
        if fault is not None and fault.kind == "slack_error":
            self._record(request, 200, "slack_error")
            return json_response({"ok": False, "error": fault.error}, 200,
                                 headers=fault.headers)(environ, start_response)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        errors = self.validate(request) if self.validate_requests else []
        if errors:
            with self.lock:
                self.validation_errors.extend(f"{signature}: {e}" for e in errors)
            response = self.validation_failure(errors)
        else:
            try:
                response = self.handle(request)
            except Exception as exc:  # a stand-in bug must be visible, not a hang
                with self.lock:
                    self.validation_errors.append(f"{signature}: stand-in error {type(exc).__name__}: {exc}")
                response = json_response({"error": "standin_error"}, 500)
        if fault is not None and fault.kind == "status_after":
            self._record(request, fault.status, "status_after")
            body = fault.body if fault.body is not None else {"type": "error.list", "errors": [
                {"code": "injected", "message": f"injected {fault.status} after processing"}]}
            return json_response(body, fault.status, headers=fault.headers)(environ, start_response)
        self._record(request, response.status_code, fault.kind if fault else None)
        if fault is not None and fault.kind == "slow_after":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "drop_after":
            self._drop(environ)
            start_response("200 OK", [])
            return []
        return response(environ, start_response)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, mimetype="application/json")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
