"""The S3 signing and XML helpers of direct uploads, without a server (the real MinIO checks the
same signatures in test_direct_uploads)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from minio import Minio

from dubbing_webui import s3sign
from dubbing_webui.upload_plan import contiguous_bytes, origin

CREDS = s3sign.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1")
WHEN = datetime(2026, 12, 2, 10, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://media.example.com"])
def test_without_extra_headers_the_url_is_the_minio_sdks(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    sdk = Minio(parts.netloc, CREDS.access_key, CREDS.secret_key, secure=parts.scheme == "https", region="us-east-1")
    key = "uploads/alice/0123/a talk (1).wav"
    query = {"partNumber": "3", "uploadId": "abc/def+=="}
    expected = sdk.get_presigned_url(
        "PUT", "dubbing", key, expires=timedelta(minutes=60), request_date=WHEN, extra_query_params=query
    )
    ours = urlsplit(s3sign.presign("PUT", endpoint, "dubbing", key, CREDS, WHEN, 3600, query))
    theirs = urlsplit(expected)
    assert (ours.scheme, ours.netloc, ours.path) == (theirs.scheme, theirs.netloc, theirs.path)
    assert parse_qs(ours.query) == parse_qs(theirs.query)  # the signature included


def test_signed_headers_are_named_and_change_the_signature() -> None:
    one = s3sign.presign("PUT", "http://h:1", "b", "k", CREDS, WHEN, 60, None, {"x-amz-checksum-sha256": "AAAA"})
    two = s3sign.presign("PUT", "http://h:1", "b", "k", CREDS, WHEN, 60, None, {"x-amz-checksum-sha256": "AAAB"})
    q1, q2 = parse_qs(urlsplit(one).query), parse_qs(urlsplit(two).query)
    assert q1["X-Amz-SignedHeaders"] == ["host;x-amz-checksum-sha256"]
    assert q1["X-Amz-Signature"] != q2["X-Amz-Signature"]
    with pytest.raises(ValueError):
        s3sign.presign("PUT", "http://h:1", "b", "k", CREDS, WHEN, 8 * 24 * 3600)


def test_sha256_b64_is_the_checksum_header_form() -> None:
    assert s3sign.sha256_b64("00" * 31 + "ff") == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP8="


LIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key>
<UploadId>u</UploadId><NextPartNumberMarker>2</NextPartNumberMarker><IsTruncated>true</IsTruncated>
<Part><PartNumber>1</PartNumber><ETag>"e1"</ETag><Size>5242880</Size><ChecksumSHA256>c1=</ChecksumSHA256></Part>
<Part><PartNumber>2</PartNumber><ETag>"e2"</ETag><Size>10</Size></Part></ListPartsResult>"""


def test_list_parts_and_complete_xml() -> None:
    parts, marker = s3sign.parse_list_parts(LIST)
    assert marker == 2
    assert parts == [
        s3sign.ListedPart(1, 5242880, "e1", "c1="),
        s3sign.ListedPart(2, 10, "e2", None),
    ]
    last, none = s3sign.parse_list_parts(LIST.replace(b"<IsTruncated>true", b"<IsTruncated>false"))
    assert none is None and len(last) == 2
    root = ET.fromstring(s3sign.complete_xml(list(reversed(parts))))
    ns = s3sign.S3_NS
    numbers = [p.findtext(f"{ns}PartNumber") for p in root.iter(f"{ns}Part")]
    assert numbers == ["1", "2"]
    assert [p.findtext(f"{ns}ChecksumSHA256") for p in root.iter(f"{ns}Part")] == ["c1=", None]
    assert root.find(f"{ns}Part/{ns}ETag").text == '"e1"'  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        s3sign.upload_id_of(b"<InitiateMultipartUploadResult/>")


def test_contiguous_bytes_and_origin() -> None:
    assert contiguous_bytes([], 10, 35) == 0
    assert contiguous_bytes([0, 1, 3], 10, 35) == 20
    assert contiguous_bytes([0, 1, 2, 3], 10, 35) == 35
    assert origin("https://media.example.com/base/") == "https://media.example.com"
