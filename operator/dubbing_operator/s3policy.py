"""What a job's stage Pods may touch in the object store (pure functions).

With scoped credentials a stage Pod holds temporary keys whose session policy allows:

* reading the job's input object (``spec.input.bucket``/``key``), nothing else of its bucket;
* reading and writing the job's own prefix (``jobs/<namespace>/<name>/``) and its output prefix
  (``spec.output``), and listing those prefixes;
* reading and writing the shared stage cache (``cache/``): the cache is content-addressed and shared
  between jobs on purpose (a rerun or the same input in another job reuses finished stages);
* reading the voices of the job owner's voice library that ``spec.voices`` names
  (``voices/<owner>/<id>/``, :mod:`dubbing.voices.library`), nothing else of any library.

Another job's input, prefix or outputs, and anything else, is refused by the object store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dubbing.api.v1alpha1 import DubbingJob
from dubbing.artifacts import parse_store_url
from dubbing.stages.layout import job_outputs_prefix, job_prefix
from dubbing.voices.check import library_choices
from dubbing.voices.library import job_owner, voice_prefix

OBJECT_READ = ["s3:GetObject"]
OBJECT_WRITE = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


@dataclass(frozen=True)
class JobScope:
    """The objects one job's stage Pods work on."""

    input: tuple[str, str] | None  # (bucket, key) of the input object; None for a URL input
    writable: tuple[tuple[str, str], ...]  # (bucket, prefix) pairs the job reads and writes
    readable: tuple[tuple[str, str], ...] = ()  # (bucket, prefix) pairs the job only reads

    @property
    def buckets(self) -> list[str]:
        seen = [b for b, _ in self.writable] + ([self.input[0]] if self.input else [])
        return sorted(set(seen))


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def job_scope(job: DubbingJob, artifacts_url: str) -> JobScope:
    """The scope of ``job`` whose artifact store is ``artifacts_url`` (``s3://bucket[/prefix]``)."""
    meta = job.metadata
    assert meta.name and meta.namespace, "a job read from the API server has a name and a namespace"
    scheme, bucket, prefix = parse_store_url(artifacts_url)
    if scheme != "s3":
        raise ValueError(f"scoped credentials need an s3:// artifact store, not {artifacts_url!r}")
    writable = [
        (bucket, _join(prefix, "cache")),
        (bucket, _join(prefix, job_prefix(meta.namespace, meta.name))),
    ]
    out = job.spec.output
    if out is not None and out.bucket:
        # published through a store over that bucket without the artifact prefix (StageContext.output_store)
        writable.append((out.bucket, job_outputs_prefix(meta.namespace, meta.name, override=out.prefix)))
    elif out is not None and out.prefix:
        writable.append((bucket, _join(prefix, job_outputs_prefix(meta.namespace, meta.name, override=out.prefix))))
    src = job.spec.input
    input_object = (src.bucket, src.key) if src.bucket and src.key else None
    owner = job_owner(job)
    readable = [
        (bucket, _join(prefix, voice_prefix(owner, voice_id)))
        for voice_id in sorted(set(library_choices(job.spec).values()))
    ]
    return JobScope(input_object, tuple(dict.fromkeys(writable)), tuple(readable))


def session_policy(scope: JobScope) -> dict[str, Any]:
    """The IAM policy document limiting temporary credentials to ``scope``."""
    statements: list[dict[str, Any]] = []
    if scope.input is not None:
        bucket, key = scope.input
        statements.append({"Effect": "Allow", "Action": OBJECT_READ, "Resource": [f"arn:aws:s3:::{bucket}/{key}"]})
    statements.append(
        {
            "Effect": "Allow",
            "Action": OBJECT_WRITE,
            "Resource": [f"arn:aws:s3:::{b}/{p}/*" for b, p in scope.writable],
        }
    )
    if scope.readable:
        statements.append(
            {
                "Effect": "Allow",
                "Action": OBJECT_READ,
                "Resource": [f"arn:aws:s3:::{b}/{p}/*" for b, p in scope.readable],
            }
        )
    by_bucket: dict[str, list[str]] = {}
    for b, p in scope.writable:
        by_bucket.setdefault(b, []).extend([f"{p}/*", f"{p}/"])
    for b, prefixes in sorted(by_bucket.items()):
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{b}"],
                "Condition": {"StringLike": {"s3:prefix": prefixes}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def credentials_lifetime(stage_timeout_seconds: int, *, floor: int = 900, ceiling: int = 43200) -> int:
    """Seconds the minted keys live: one whole stage plus ten minutes, within the STS bounds."""
    return max(floor, min(ceiling, stage_timeout_seconds + 600))


def needs_new_credentials(expires_in: float | None, stage_timeout_seconds: int) -> bool:
    """True when a stage Pod about to start could outlive the job's current keys (or it has none)."""
    return expires_in is None or expires_in < stage_timeout_seconds + 300
