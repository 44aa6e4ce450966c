"""S3 requests the minio client does not make: presigned URLs whose signature covers extra headers
(an UploadPart URL bound to its part's ``x-amz-checksum-sha256``), and the XML of ListParts and
CompleteMultipartUpload with the parts' SHA-256 checksums. Pure functions (AWS Signature V4,
query-string form); the caller does the I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4's limit on a presigned URL's lifetime


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str


@dataclass(frozen=True)
class ListedPart:
    number: int
    size: int
    etag: str
    sha256_b64: str | None


def sha256_b64(hex_digest: str) -> str:
    """The base64 form S3's checksum headers use of a hex SHA-256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _uri(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def _host(endpoint: str) -> tuple[str, str]:
    """``(scheme, host)`` of ``http(s)://host[:port]``, the port left out where it is the scheme's default."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)):
        host += f":{parts.port}"
    return scheme, host


def presign(
    method: str,
    endpoint: str,
    bucket: str,
    key: str,
    creds: Credentials,
    now: datetime,
    expires_s: int,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """A presigned URL (path style) for ``method`` on ``bucket/key``; every header in ``headers`` is
    signed, so the request must carry exactly those values (S3 refuses it otherwise)."""
    if not 1 <= expires_s <= MAX_EXPIRES_S:
        raise ValueError(f"expires_s must be between 1 and {MAX_EXPIRES_S}")
    scheme, host = _host(endpoint)
    signed = {"host": host, **{k.lower(): v.strip() for k, v in (headers or {}).items()}}
    names = ";".join(sorted(signed))
    day = now.strftime("%Y%m%d")
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{day}/{creds.region}/s3/aws4_request"
    params = {
        **(query or {}),
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{creds.access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires_s),
        "X-Amz-SignedHeaders": names,
    }
    canonical_query = "&".join(f"{_uri(k)}={_uri(v)}" for k, v in sorted(params.items()))
    path = "/" + _uri(bucket) + "/" + _uri(key, safe="-_.~/")
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    request = "\n".join([method, path, canonical_query, canonical_headers, names, "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    key_bytes = ("AWS4" + creds.secret_key).encode()
    for part in (day, creds.region, "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{scheme}://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"


def parse_list_parts(xml: bytes) -> tuple[list[ListedPart], int | None]:
    """The parts of a ListParts answer and the marker of the next page (None: the last page)."""
    root = ET.fromstring(xml)
    parts = []
    for el in root.iter(f"{S3_NS}Part"):
        parts.append(
            ListedPart(
                number=int(el.findtext(f"{S3_NS}PartNumber") or "0"),
                size=int(el.findtext(f"{S3_NS}Size") or "0"),
                etag=(el.findtext(f"{S3_NS}ETag") or "").strip('"'),
                sha256_b64=el.findtext(f"{S3_NS}ChecksumSHA256"),
            )
        )
    truncated = (root.findtext(f"{S3_NS}IsTruncated") or "false").lower() == "true"
    marker = root.findtext(f"{S3_NS}NextPartNumberMarker")
    return parts, int(marker) if truncated and marker else None


def complete_xml(parts: Sequence[ListedPart]) -> bytes:
    """The CompleteMultipartUpload body naming each part's ETag and SHA-256 checksum."""
    root = ET.Element("CompleteMultipartUpload", xmlns=S3_NS.strip("{}"))
    for p in sorted(parts, key=lambda p: p.number):
        el = ET.SubElement(root, "Part")
        ET.SubElement(el, "PartNumber").text = str(p.number)
        ET.SubElement(el, "ETag").text = f'"{p.etag}"'
        if p.sha256_b64:
            ET.SubElement(el, "ChecksumSHA256").text = p.sha256_b64
    return ET.tostring(root, xml_declaration=False)


def upload_id_of(xml: bytes) -> str:
    """The UploadId of a CreateMultipartUpload answer."""
    value = ET.fromstring(xml).findtext(f"{S3_NS}UploadId")
    if not value:
        raise ValueError("no UploadId in the answer")
    return value
