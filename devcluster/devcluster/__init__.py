"""A local Kubernetes for development and tests.

etcd, kube-apiserver, kube-scheduler and kube-controller-manager run as local
processes (binaries built from the pinned Kubernetes Go modules and cached by
version); development kubelets (``devcluster.kubelet``) register nodes and run
Pods as local processes. Entry point: ``python -m devcluster up|down|status``.
"""
