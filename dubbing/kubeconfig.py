"""Where the operator and the web UI find their cluster, and how long they wait for it: one rule for both."""

from __future__ import annotations

from typing import Any

# (connect, read) seconds for a call that names no timeout of its own. A watch names its own.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 20.0)


def client_configuration(kubeconfig: str | None) -> Any:
    """A ``kubernetes.client.Configuration`` for ``kubeconfig``; without one the in-cluster
    service account, else the default kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``)."""
    from kubernetes import client, config

    cfg = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        return cfg
    try:
        config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException:
        config.load_kube_config(client_configuration=cfg)
    return cfg


def with_default_timeout(given: Any, default: tuple[float, float]) -> Any:
    """The timeout a call runs with: its own when it names one, else ``default`` (never none at all)."""
    return given if given else default


def api_client(kubeconfig: str | None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, pool_size: int = 4) -> Any:
    """A ``kubernetes.client.ApiClient`` on which no call waits without end.

    The generated client sends a request without a timeout unless the caller passes
    ``_request_timeout``; against an API server that accepts the connection and then hangs, such a
    call never returns (a leader's renewal outlives its Lease, a reconcile worker is lost for good).
    Here every call that names none gets ``timeout``.
    """
    import urllib3
    from kubernetes import client

    class BoundedApiClient(client.ApiClient):
        def call_api(self, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
            kwargs["_request_timeout"] = with_default_timeout(_request_timeout, timeout)
            return super().call_api(*args, **kwargs)

    cfg = client_configuration(kubeconfig)
    cfg.connection_pool_maxsize = max(pool_size, 4)
    # a read that timed out is not repeated behind the caller's back (that would multiply the wait);
    # the caller retries with its own backoff. Connection failures are retried twice.
    cfg.retries = urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0)
    return BoundedApiClient(cfg)
