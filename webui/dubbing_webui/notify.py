"""Per-user ntfy settings and the test notification (the server URL is the operator's)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from dubbing.api.v1alpha1 import NTFY_TOPIC_PATTERN

OUTCOMES = ("succeeded", "failed", "cancelled", "review")


class SettingsError(ValueError):
    pass


def validate_ntfy(enabled: bool, topic: str, events: list[str]) -> dict[str, Any]:
    topic = topic.strip()
    if topic and not re.fullmatch(NTFY_TOPIC_PATTERN, topic):
        raise SettingsError("topic: 1 to 64 letters, digits, '_' or '-'")
    if enabled and not topic:
        raise SettingsError("topic is required when notifications are enabled")
    bad = [e for e in events if e not in OUTCOMES]
    if bad:
        raise SettingsError(f"unknown outcomes: {', '.join(bad)}")
    return {"enabled": enabled, "topic": topic or None, "events": [e for e in OUTCOMES if e in events]}


def send_test(server: str | None, token: str | None, topic: str, click: str, timeout_s: float = 10) -> None:
    if not server:
        raise SettingsError("no ntfy server is configured (DUBBING_NTFY_URL)")
    headers = {
        "Title": "Dubbing: test notification",
        "Tags": "test_tube,movie_camera",
        "Click": click,
        "Priority": "default",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = httpx.post(
            f"{server}/{topic}",
            content=b"Notifications from the dubbing service reach you.",
            headers=headers,
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise SettingsError(f"ntfy server unreachable: {exc}") from exc
    if resp.status_code >= 300:
        raise SettingsError(f"ntfy server answered HTTP {resp.status_code}")
