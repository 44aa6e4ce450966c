"""MinIO's side of a checksummed multipart upload, driven as a test's own S3 client (real HTTP,
SigV4 presigned requests): list the parts, assemble them as MinIO would on the web UI's behalf."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from devcluster.stack.s3 import S3
from dubbing_webui import s3sign


def _creds(s3: S3) -> s3sign.Credentials:
    return s3sign.Credentials(s3.access_key, s3.secret_key, "us-east-1")


def list_parts(s3: S3, bucket: str, key: str, upload_id: str) -> list[s3sign.ListedPart]:
    url = s3sign.presign("GET", s3.endpoint, bucket, key, _creds(s3), datetime.now(UTC), 300, {"uploadId": upload_id})
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    return s3sign.parse_list_parts(resp.content)[0]


def complete(s3: S3, bucket: str, key: str, upload_id: str) -> None:
    parts = list_parts(s3, bucket, key, upload_id)
    url = s3sign.presign("POST", s3.endpoint, bucket, key, _creds(s3), datetime.now(UTC), 300, {"uploadId": upload_id})
    resp = httpx.post(url, content=s3sign.complete_xml(parts), timeout=60)
    assert resp.status_code == 200 and b"<Error>" not in resp.content, resp.text
