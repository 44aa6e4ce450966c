"""The local stack that tests and benchmarks run against, built on the development cluster.

* :mod:`.kube`: a cluster as a client sees it (``KubeCluster``), joining the development cluster
  (or using a given kubeconfig), the DubbingJob CRD, throwaway namespaces, job helpers.
* :mod:`.redis`, :mod:`.s3`, :mod:`.postgres`: a ``redis-server`` that can be stopped and started again,
  MinIO, and a throwaway PostgreSQL.
* :mod:`.webui`, :mod:`.ntfy`: the web UI as a process with users and API tokens, an ntfy server.
* :mod:`.media`, :mod:`.procstat`: WAV files of any size; a process's memory and CPU over time.

Each module imports only the standard library and the core's dependencies at import time; a
dependency that cannot run here raises :class:`Unavailable` with the reason.
"""

from __future__ import annotations


class Unavailable(RuntimeError):
    """Something the stack needs cannot run here (no binary, no cluster); the message says what and why."""
