"""Where the operator and the web UI find their cluster: one rule for both."""

from __future__ import annotations

from typing import Any


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
