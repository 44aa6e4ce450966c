"""MinIO for tests and benchmarks: the server in ``DUBBING_S3_ENDPOINT`` when set, else one started
from the binary the development tooling builds (:mod:`devcluster.minio`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ports import free_port_pair
from . import Unavailable


@dataclass(frozen=True)
class S3:
    endpoint: str  # http://host:port
    access_key: str
    secret_key: str

    def client(self) -> Any:  # -> minio.Minio
        from minio import Minio

        host = self.endpoint.split("://", 1)[1]
        return Minio(host, access_key=self.access_key, secret_key=self.secret_key, secure=False)


@contextmanager
def minio() -> Iterator[S3]:
    """MinIO: ``DUBBING_S3_ENDPOINT``'s when set, else one started here (its data removed afterwards)."""
    if os.environ.get("DUBBING_S3_ENDPOINT"):
        endpoint = os.environ["DUBBING_S3_ENDPOINT"]
        yield S3(
            endpoint if "://" in endpoint else f"http://{endpoint}",
            os.environ.get("DUBBING_S3_ACCESS_KEY", ""),
            os.environ.get("DUBBING_S3_SECRET_KEY", ""),
        )
        return
    from devcluster import minio as devminio

    if not devminio.binary_path().is_file() and shutil.which("go") is None:
        raise Unavailable(f"no MinIO: no binary at {devminio.binary_path()} and no Go to build it")
    run_dir = Path(tempfile.mkdtemp(prefix="stack-minio-", dir="/var/tmp"))
    port = free_port_pair()
    server = devminio.start_minio(
        port=port, run_dir=run_dir, data_dir=run_dir / "data", user="stackadmin", password="stack-secret-123"
    )
    try:
        yield S3(server.url, server.access_key, server.secret_key)
    finally:
        devminio.stop_minio(port=port, run_dir=run_dir, remove_data=True, data_dir=run_dir / "data")
        shutil.rmtree(run_dir, ignore_errors=True)
