"""A small client for the OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``).

Spoken by vLLM, Ollama, llama.cpp's server and the hosted APIs alike.  Transient trouble
(connection refused or reset, timeouts, HTTP 429 and 5xx) is retried with exponential backoff
(``Retry-After`` honoured, capped); a refused key (401/403) or a bad request is not.  A server
that rejects ``response_format`` with a JSON schema is asked again with ``json_object``, then
with none (the answer is validated either way), and the client remembers what it took.
Token usage is summed over every request, thread-safely.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .base import BackendError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0


class LlmError(BackendError):
    """A request failed; ``transient`` says whether trying again later may help."""

    def __init__(self, message: str, *, transient: bool, reason: str = "LlmEndpointFailed") -> None:
        super().__init__(reason, message, transient=transient)


def endpoint_base(endpoint: str) -> str:
    """The API's base URL, ending in ``/v1`` (an endpoint given without it gets it)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def backoff_seconds(attempt: int, base: float, retry_after: str | None = None) -> float:
    """Wait before retry ``attempt`` (1, 2, ...): ``Retry-After`` when the server gave seconds, else
    ``base`` doubled each time; never more than :data:`MAX_BACKOFF_SECONDS`."""
    if retry_after:
        try:
            return min(MAX_BACKOFF_SECONDS, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return min(MAX_BACKOFF_SECONDS, base * (2 ** (attempt - 1)))


def describe_http_error(error: httpx.HTTPError, base: str) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"endpoint {base} unreachable: {error or 'connection refused'}"
    if isinstance(error, httpx.TimeoutException):
        return f"endpoint {base} did not answer in time ({type(error).__name__})"
    return f"endpoint {base}: {type(error).__name__}: {error}"


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message", error))[:300]
        if error:
            return str(error)[:300]
    return str(data)[:300]


@dataclass
class Usage:
    """Token counts and request outcomes, summed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    retries: int = 0
    invalid_replies: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + int(value))

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "promptTokens": self.prompt_tokens,
                "completionTokens": self.completion_tokens,
                "totalTokens": self.prompt_tokens + self.completion_tokens,
                "requests": self.requests,
                "retries": self.retries,
                "invalidReplies": self.invalid_replies,
            }


@dataclass(frozen=True)
class ChatReply:
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


class OpenAICompatibleClient:
    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = endpoint_base(endpoint)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep = sleep
        self.usage = Usage()
        #: response_format kinds still worth sending, best first (a server refusing one drops it).
        self._formats = ["json_schema", "json_object", "none"]
        self._formats_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def models(self, timeout: float | None = None) -> list[str]:
        """The model ids the server serves (one try: for readiness)."""
        try:
            response = self._http.get("/models", timeout=timeout or self._http.timeout)
        except httpx.HTTPError as error:
            raise LlmError(describe_http_error(error, self.base), transient=True) from None
        if response.status_code in (401, 403):
            raise LlmError(
                f"endpoint {self.base} refused the API key (HTTP {response.status_code}: {_error_text(response)})",
                transient=False,
            )
        if response.status_code >= 400:
            raise LlmError(
                f"endpoint {self.base} answered HTTP {response.status_code} to GET /models: {_error_text(response)}",
                transient=response.status_code in RETRY_STATUSES,
            )
        try:
            data = response.json()
            return [str(item["id"]) for item in data.get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LlmError(f"endpoint {self.base}: GET /models is not an OpenAI model list", transient=False) from None

    def _post(self, body: Mapping[str, Any]) -> httpx.Response:
        """POST /chat/completions, retrying transient failures; the last failure is raised."""
        attempt = 0
        while True:
            attempt += 1
            self.usage.add(requests=1)
            problem: str
            retry_after: str | None = None
            try:
                response = self._http.post("/chat/completions", json=body)
            except httpx.HTTPError as error:
                problem = describe_http_error(error, self.base)
            else:
                if response.status_code < 400 or response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"endpoint {self.base} answered HTTP {response.status_code}: {_error_text(response)}"
                retry_after = response.headers.get("retry-after")
            if attempt > self.max_retries:
                raise LlmError(f"{problem} (after {attempt} attempts)", transient=True)
            self.usage.add(retries=1)
            self._sleep(backoff_seconds(attempt, self.backoff, retry_after))

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str,
        temperature: float,
        schema: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        frequency_penalty: float | None = None,
    ) -> ChatReply:
        while True:
            with self._formats_lock:
                kind = self._formats[0] if schema is not None else "none"
            body: dict[str, Any] = {"model": model, "messages": list(messages), "temperature": temperature}
            if max_tokens:
                body["max_tokens"] = max_tokens
            if frequency_penalty:
                body["frequency_penalty"] = frequency_penalty
            if kind == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "translations", "schema": dict(schema or {}), "strict": True},
                }
            elif kind == "json_object":
                body["response_format"] = {"type": "json_object"}
            response = self._post(body)
            if response.status_code in (401, 403):
                raise LlmError(
                    f"endpoint {self.base} refused the API key (HTTP {response.status_code}: {_error_text(response)})",
                    transient=False,
                )
            if response.status_code == 404:
                raise LlmError(
                    f"endpoint {self.base} does not serve model {model!r} (HTTP 404: {_error_text(response)})",
                    transient=False,
                )
            if response.status_code in (400, 422) and kind != "none" and "response_format" in _lower(response):
                with self._formats_lock:
                    if self._formats[0] == kind and len(self._formats) > 1:
                        self._formats.pop(0)
                continue
            if response.status_code >= 400:
                raise LlmError(
                    f"endpoint {self.base} answered HTTP {response.status_code}: {_error_text(response)}",
                    transient=False,
                )
            return self._reply(response)

    def _reply(self, response: httpx.Response) -> ChatReply:
        try:
            data = response.json()
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise LlmError(
                f"endpoint {self.base}: the answer is not an OpenAI chat completion", transient=True
            ) from None
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self.usage.add(prompt_tokens=prompt, completion_tokens=completion)
        return ChatReply(str(content), choice.get("finish_reason"), prompt, completion)

    @property
    def response_format(self) -> str:
        """What the server took last: json_schema, json_object or none."""
        with self._formats_lock:
            return self._formats[0]


def _lower(response: httpx.Response) -> str:
    return _error_text(response).lower() + " " + response.text[:1000].lower()
