"""The one-line JSON summary a stage writes to its termination message path (pure functions).

Kubernetes keeps at most 4096 bytes of a container's termination message; the summary
is cut to fit (message first, then outputs), so it always stays valid JSON on one line.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

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
) -> dict[str, Any]:
    return {
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


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def encode(data: Mapping[str, Any], limit: int = LIMIT) -> str:
    """JSON on one line, at most ``limit`` bytes (UTF-8)."""
    data = dict(data)
    data["message"] = one_line(data.get("message", ""))
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) <= limit:
        return text
    # 1. shorten the message
    overflow = len(text.encode("utf-8")) - limit
    message = data["message"]
    encoded = message.encode("utf-8")
    keep = max(0, len(encoded) - overflow - 8)
    data["message"] = encoded[:keep].decode("utf-8", "ignore") + "…"
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # 2. drop outputs one by one (then every other long value) until it fits
    outputs = dict(data.get("outputs") or {})
    while len(text.encode("utf-8")) > limit and outputs:
        outputs.pop(sorted(outputs)[-1])
        data["outputs"] = {**outputs, "truncated": True} if outputs else {"truncated": True}
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) > limit:
        data = {k: (v[:200] if isinstance(v, str) else v) for k, v in data.items()}
        data["outputs"] = {"truncated": True}
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text


def write(path: str, data: Mapping[str, Any]) -> bool:
    """Write the summary; False if the path cannot be written (a laptop without /dev/termination-log)."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(encode(data))
        return True
    except OSError:
        return False
