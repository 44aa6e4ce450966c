"""The Hugging Face Hub side of a pull, through ``huggingface_hub``'s own client.

``HF_ENDPOINT`` (a mirror) and ``HF_TOKEN`` (gated repositories) are honoured as the library
honours them; ``endpoint``/``token`` arguments override them.  A file is fetched into a
``.part`` file that survives the process: a later pull sends a Range request for the rest
(``huggingface_hub``'s own download keeps no partial file across runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .catalogue import SHA256


class HubError(RuntimeError):
    """The Hub (or the mirror) refused or failed a request; the message says which and why."""


@dataclass(frozen=True)
class RemoteFile:
    """What the Hub says about one file at one revision (a HEAD request)."""

    url: str
    size: int | None
    etag: str | None
    commit: str | None

    @property
    def sha256(self) -> str | None:
        """Large (LFS) files carry their sha256 as the ETag; small ones a git blob id."""
        return self.etag if self.etag and SHA256.fullmatch(self.etag) else None


def default_endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _describe(error: Exception, what: str) -> HubError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(error, GatedRepoError):
        return HubError(f"{what}: gated repository: accept its terms on the Hub and set HF_TOKEN ({error})")
    if isinstance(error, RevisionNotFoundError):
        return HubError(f"{what}: no such revision ({error})")
    if isinstance(error, RepositoryNotFoundError):
        return HubError(f"{what}: repository not found, or private without a token ({error})")
    if isinstance(error, HfHubHTTPError):
        return HubError(f"{what}: {error}")
    return HubError(f"{what}: {type(error).__name__}: {error}")


def remote_file(repo: str, path: str, revision: str, endpoint: str | None, token: str | None) -> RemoteFile:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo, path, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token or None, endpoint=endpoint, retry_on_errors=True)
    except Exception as error:
        raise _describe(error, f"{repo}@{revision}/{path}") from error
    return RemoteFile(url=meta.location, size=meta.size, etag=meta.etag, commit=meta.commit_hash)


def fetch_into(remote: RemoteFile, part: Path, token: str | None, what: str) -> int:
    """Complete ``part`` from the Hub, resuming after the bytes it already holds; the bytes fetched now."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if remote.size is not None and have == remote.size:
        return 0
    headers = build_hf_headers(token=token or None)
    try:
        with open(part, "ab") as out:
            http_get(
                remote.url, out, resume_size=have, headers=headers, expected_size=remote.size, displayed_filename=what
            )
            out.flush()
            os.fsync(out.fileno())
    except Exception as error:
        raise _describe(error, what) from error
    return part.stat().st_size - have
