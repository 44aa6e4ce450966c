"""The one-line JSON summary a stage writes to its termination message path (pure functions).

Kubernetes keeps at most 4096 bytes of a container's termination message; the summary
is cut to fit (message first, then outputs), so it always stays valid JSON on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

LIMIT = 4096
DEFAULT_PATH = "/dev/termination-log"


def summary(
    stage: str,
    ok: bool,
    *,
    cache_hit: bool = False,
    backend: str | None = None,
    model: str | None = None,
    duration_seconds: float = 0.0,
    outputs: Mapping[str, Any] | None = None,
    reason: str = "",
    message: str = "",
    last_log_line: str = "",
) -> dict[str, Any]:
    """The summary; ``last_log_line`` (the stage's last progress line, when it printed one) spares
    the operator reading the finished Pod's log for it."""
    data = {
        "stage": stage,
        "ok": bool(ok),
        "cacheHit": bool(cache_hit),
        "backend": backend,
        "model": model,
        "durationSeconds": round(float(duration_seconds), 3),
        "outputs": dict(outputs or {}),
        "reason": reason or ("Completed" if ok else "Error"),
        "message": one_line(message),
    }
    if last_log_line.strip():
        data["lastLogLine"] = _cut(one_line(last_log_line), 512)
    return data


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _cut(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes - 3)].decode("utf-8", "ignore") + "…"


def encode(data: Mapping[str, Any], limit: int = LIMIT, message_share: int = 1024) -> str:
    """JSON on one line, at most ``limit`` bytes (UTF-8).

    The message is first cut to ``message_share`` bytes, then outputs are dropped
    (``"truncated": true`` says so), then the message is cut further if still needed.
    """
    data = dict(data)
    data["message"] = _cut(one_line(data.get("message", "")), message_share)
    text = _dump(data)
    outputs = dict(data.get("outputs") or {})
    while len(text.encode("utf-8")) > limit and outputs:
        outputs.pop(sorted(outputs)[-1])
        data["outputs"] = {**outputs, "truncated": True}
        text = _dump(data)
    if len(text.encode("utf-8")) > limit:
        overflow = len(text.encode("utf-8")) - limit
        data["message"] = _cut(data["message"], max(0, len(data["message"].encode("utf-8")) - overflow - 4))
        text = _dump(data)
    if len(text.encode("utf-8")) > limit:  # pathological: long stage/backend/model strings
        data = {k: (_cut(v, 200) if isinstance(v, str) else v) for k, v in data.items()}
        data["outputs"] = {"truncated": True}
        text = _dump(data)
    return text


def write(path: str, data: Mapping[str, Any]) -> bool:
    """Write the summary; False if the path cannot be written (a laptop without /dev/termination-log)."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(encode(data))
        return True
    except OSError:
        return False
