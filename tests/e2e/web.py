"""What the web-side reliability gates share: the web UI stack (see :mod:`devcluster.stack`).

On top of the ``cluster`` fixture and the suite's MinIO (``webui_s3``), a gate gets a fresh
namespace, a ``redis-server`` on a fixed port that it may stop and start, a local
ntfy-protocol server, and the app itself (``python -m dubbing_webui``) in a subprocess with
an admin and the users ``alice`` and ``bob`` holding API tokens.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.media import file_sha256, make_wav
from devcluster.stack.procstat import ProcSampler, proc_cpu_seconds, proc_rss_kib
from devcluster.stack.redis import RedisServer, redis
from devcluster.stack.s3 import S3
from devcluster.stack.webui import PASSWORD, WebUI, browser_login, webui
from tests.webui import uploadclient

from . import common as c

__all__ = [
    "PASSWORD",
    "S3",
    "ProcSampler",
    "RedisServer",
    "WebStack",
    "WebUI",
    "browser_login",
    "file_sha256",
    "make_wav",
    "metric_value",
    "need_redis",
    "proc_cpu_seconds",
    "proc_rss_kib",
    "redis",
    "uploadclient",
    "web_stack",
    "webui",
]


def need_redis() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")


@dataclass
class WebStack:
    """What a web gate runs against: the cluster and its namespace, MinIO, Redis and the app."""

    kube: Any
    ns: str
    s3: S3
    redis: RedisServer
    ui: WebUI


@contextmanager
def web_stack(
    gate: c.Gate, kube: Any, s3: S3, prefix: str, work: Path, extra_env: dict[str, str] | None = None
) -> Iterator[WebStack]:
    """A fresh namespace, Redis and the app (its log kept with the gate's)."""
    need_redis()
    with c.namespace(kube, prefix) as ns, redis(work) as rds, webui(kube, ns, s3, rds, work / "webui", extra_env) as ui:
        gate.logs.append(ui.log)
        yield WebStack(kube, ns, s3, rds, ui)


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """One sample's value from a Prometheus text exposition (labels must match exactly the given ones)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if labels is None or all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None
