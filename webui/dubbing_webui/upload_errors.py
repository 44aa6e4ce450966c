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


class SpoolFull(UploadError):
    """No room to spool the request (the user's share, the whole spool, or the disk)."""

    status = 507


class ChecksumMismatch(UploadError):
    status = 460  # tus' "Checksum Mismatch"; the chunk API answers 422
