"""No call to the API server waits without end: the operator's and the web UI's clients against a
server that accepts connections and never answers (loopback only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dubbing.kubeconfig import api_client, with_default_timeout
from tests.fixtures.netfaults import SilentServer, kubeconfig_for


@pytest.fixture
def silent_kubeconfig(tmp_path) -> Iterator[str]:
    server = SilentServer()
    try:
        yield str(kubeconfig_for(f"http://127.0.0.1:{server.port}", tmp_path / "kubeconfig"))
    finally:
        server.close()


def _operator_client(kubeconfig: str) -> Any:
    from dubbing_operator.kube import load

    return load(kubeconfig, pool_size=2, timeout=1.0)


def _webui_client(kubeconfig: str) -> Any:
    from dubbing_webui.kube import Kube

    return Kube.connect(kubeconfig, timeout=1.0).api


def _shared_client(kubeconfig: str) -> Any:
    return api_client(kubeconfig, timeout=(1.0, 1.0))


def _call_in_thread(fn: Callable[[], Any], wait: float) -> tuple[bool, BaseException | None, float]:
    """(finished within ``wait``, what it raised, seconds it took)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - reported to the test
            outcome["error"] = err
        outcome["took"] = time.monotonic() - started

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(wait)
    return not t.is_alive(), outcome.get("error"), outcome.get("took", wait)


@pytest.mark.parametrize("make", [_operator_client, _webui_client, _shared_client], ids=["operator", "webui", "shared"])
def test_a_call_to_a_silent_api_server_gives_up_after_the_timeout(silent_kubeconfig, make):
    from kubernetes import client

    api = make(silent_kubeconfig)
    finished, error, took = _call_in_thread(
        lambda: client.CustomObjectsApi(api).list_namespaced_custom_object(
            "dubbing.dev", "v1alpha1", "ns", "dubbingjobs"
        ),
        wait=15,
    )
    assert finished, "the call still waits after 15 s: no timeout"
    assert error is not None and took < 5  # one read timeout of 1 s, not repeated
    import urllib3

    assert isinstance(error, urllib3.exceptions.HTTPError | OSError), repr(error)


def test_a_call_that_names_its_own_timeout_keeps_it():
    assert with_default_timeout(3, (5.0, 20.0)) == 3
    assert with_default_timeout((1, 300), (5.0, 20.0)) == (1, 300)
    assert with_default_timeout(None, (5.0, 20.0)) == (5.0, 20.0)
