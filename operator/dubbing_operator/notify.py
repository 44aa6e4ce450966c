"""Outcome messages over ntfy's HTTP publish API.

Delivery scheme (see docs/operator.md): the intent is written to
``status.notification`` (state ``sending`` with an id) before the first send;
the id travels as a message tag.  Whenever a send may already have happened
(state ``sending`` found after a restart, or a retry after an error), the
topic's cached messages are polled for that tag first and the message is only
sent if it is not there.  So a message goes out once, even across a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from dubbing.api.v1alpha1 import DubbingJob, LanguageOutput, NotificationStatus

from .settings import Settings

TITLES = {
    "succeeded": "Dubbing finished",
    "failed": "Dubbing failed",
    "cancelled": "Dubbing cancelled",
    "review": "Ready for review",
}
PRIORITY = {"succeeded": "default", "failed": "high", "cancelled": "low", "review": "default"}
TAGS = {"succeeded": "white_check_mark", "failed": "x", "cancelled": "no_entry_sign", "review": "pencil2"}


def job_url(settings: Settings, namespace: str, name: str) -> str:
    return f"{settings.public_base_url}/jobs/{namespace}/{name}"


def review_url(settings: Settings, namespace: str, name: str, stage: str) -> str:
    """The deep link of a review pause: the job's segment editor (the web UI's
    ``/jobs/<namespace>/<name>/edit``), at the stage it waits after."""
    return f"{job_url(settings, namespace, name)}/edit#review-{stage}"


def id_tag(ident: str) -> str:
    return f"dj-{ident}"


@dataclass(frozen=True)
class Message:
    topic: str
    title: str
    body: str
    priority: str
    tags: list[str]
    click: str

    def headers(self) -> dict[str, str]:
        return {
            "Title": self.title,
            "Priority": self.priority,
            "Tags": ",".join(self.tags),
            "Click": self.click,
            "Actions": f"view, Open job, {self.click}",
        }


MINUS = "\u2212"  # typographic minus: "−16.2 LUFS"


def _signed(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return MINUS + text[1:] if text.startswith("-") and text.strip("-0.") else text.lstrip("-")


def quality_line(output: LanguageOutput) -> str | None:
    """One line of a language's scorecard for the success message, from ``status.outputs``:
    ``pt-BR: WER 8 %, 13/13 in slot, −16.2 LUFS``; None when the score stage reported nothing."""
    q = output.quality
    if q is None:
        return None
    parts = []
    if q.wer is not None:
        parts.append(f"WER {q.wer * 100:.0f} %")
    if q.inSlot is not None and q.segments:
        parts.append(f"{q.inSlot}/{q.segments} in slot")
    elif q.fitShare is not None:
        parts.append(f"{q.fitShare * 100:.0f} % in slot")
    if q.lufs is not None:
        parts.append(f"{_signed(q.lufs, 1)} LUFS")
    if q.unmeasured:
        parts.append(f"not measured: {' '.join(q.unmeasured)}")
    return f"{output.language}: {', '.join(parts)}" if parts else None


def build_message(job: DubbingJob, outcome: str, topic: str, ident: str, settings: Settings) -> Message:
    ns, name = job.metadata.namespace or "", job.metadata.name or ""
    st = job.status
    langs = ", ".join(job.spec.targetLanguages)
    kind, _, stage = outcome.partition("-")
    click = job_url(settings, ns, name)
    if kind == "review":
        body = f"{name} waits for your review after {stage}: check the segments, edit them, then approve."
        click = review_url(settings, ns, name, stage)
    elif outcome == "succeeded":
        body = f"{name} is dubbed into {langs}."
        outputs = (st.outputs.languages if st and st.outputs else None) or []
        lines = [line for line in map(quality_line, outputs) if line]
        if lines:
            body += "\n" + "\n".join(lines)
    elif outcome == "failed":
        body = f"{name} failed: {(st.message if st else None) or 'unknown reason'}"
    else:
        body = f"{name} was cancelled."
    return Message(
        topic=topic,
        title=f"{TITLES.get(kind, outcome)}: {name}",
        body=body[:4000],
        priority=PRIORITY.get(kind, "default"),
        tags=[TAGS.get(kind, "bell"), "dubbing", id_tag(ident)],
        click=click,
    )


class NtfyClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    def publish(self, msg: Message) -> dict[str, Any]:
        headers = {**self.auth, **msg.headers()}
        r = httpx.post(f"{self.base}/{msg.topic}", content=msg.body.encode(), headers=headers, timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def find(self, topic: str, tag: str, since: datetime) -> dict[str, Any] | None:
        """A cached message of ``topic`` carrying ``tag``, published since ``since``."""
        params = {"poll": "1", "since": str(int(since.timestamp()))}
        r = httpx.get(f"{self.base}/{topic}/json", params=params, headers=self.auth, timeout=self.timeout)
        r.raise_for_status()
        for line in r.text.splitlines():
            if not line.strip():
                continue
            m = json.loads(line)
            if m.get("event", "message") == "message" and tag in (m.get("tags") or []):
                return m
        return None


def after_success(n: NotificationStatus, message_id: str | None, now: datetime) -> NotificationStatus:
    return n.model_copy(update={"state": "sent", "messageId": message_id, "sentAt": now, "attempts": n.attempts + 1,
                                "nextAttemptAt": None, "lastError": None})  # fmt: skip


def after_failure(n: NotificationStatus, error: str, now: datetime, settings: Settings) -> NotificationStatus:
    attempts = n.attempts + 1
    if attempts >= settings.ntfy_max_attempts:
        return n.model_copy(
            update={"state": "failed", "attempts": attempts, "lastError": error[:4000], "nextAttemptAt": None}
        )
    delay = min(settings.backoff_max_seconds, 2.0 * 2 ** (attempts - 1))
    return n.model_copy(update={"state": "retrying", "attempts": attempts, "lastError": error[:4000],
                                "nextAttemptAt": now + timedelta(seconds=delay)})  # fmt: skip
