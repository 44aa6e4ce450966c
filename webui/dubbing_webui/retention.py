"""How long things stay in the object store: lifecycle rules the store applies itself.

Completed uploads, job outputs and stage cache entries expire after a number of days (0: kept);
multipart uploads left unfinished are aborted by the store a day after the web UI's own expiry,
so a crashed web UI leaves no parts behind. The rules cover only this installation's prefixes and
replace earlier rules of the same ids, leaving other rules of the bucket alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RULE_PREFIX = "dubbing-"


@dataclass(frozen=True)
class ExpiryRule:
    id: str
    prefix: str
    days: int | None  # objects expire this many days after creation; None: not at all
    abort_multipart_days: int | None = None


def retention_rules(upload_days: int, output_days: int, cache_days: int, upload_expiry_hours: int) -> list[ExpiryRule]:
    """The bucket's rules for the given retention (days; 0 = keep)."""
    abort_days = max(1, math.ceil(upload_expiry_hours / 24) + 1)
    rules = [ExpiryRule(f"{RULE_PREFIX}uploads", "uploads/", upload_days or None, abort_days)]
    if output_days:
        rules.append(ExpiryRule(f"{RULE_PREFIX}outputs", "jobs/", output_days))
    if cache_days:
        rules.append(ExpiryRule(f"{RULE_PREFIX}cache", "cache/", cache_days))
    return rules


def upload_is_past_retention(created: float, now: float, upload_days: int) -> bool:
    return upload_days > 0 and now - created > upload_days * 86400


def apply_rules(client: Any, bucket: str, rules: list[ExpiryRule]) -> None:
    """Put ``rules`` into the bucket's lifecycle configuration (``client``: a ``minio.Minio``)."""
    from minio.commonconfig import ENABLED, Filter
    from minio.lifecycleconfig import AbortIncompleteMultipartUpload, Expiration, LifecycleConfig, Rule

    current = client.get_bucket_lifecycle(bucket)
    kept = [r for r in (current.rules if current else []) if not (r.rule_id or "").startswith(RULE_PREFIX)]
    ours = [
        Rule(
            ENABLED,
            rule_filter=Filter(prefix=r.prefix),
            rule_id=r.id,
            expiration=Expiration(days=r.days) if r.days else None,
            abort_incomplete_multipart_upload=(
                AbortIncompleteMultipartUpload(days_after_initiation=r.abort_multipart_days)
                if r.abort_multipart_days
                else None
            ),
        )
        for r in rules
    ]
    client.set_bucket_lifecycle(bucket, LifecycleConfig(kept + ours))
