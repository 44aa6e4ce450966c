"""Why an upload request was refused, each with the HTTP status it answers with."""

from __future__ import annotations


class UploadError(ValueError):
    status = 400


class NotFound(UploadError):
    status = 404


class Conflict(UploadError):
    status = 409


class TooLarge(UploadError):
    status = 413


class OverQuota(UploadError):
    """A per-user limit (unfinished uploads: 429, stored bytes: 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SpoolFull(UploadError):
    """No room to spool the request (the user's share, the whole spool, or the disk)."""

    status = 507


class ChecksumMismatch(UploadError):
    status = 460  # tus' "Checksum Mismatch"; the chunk API answers 422
