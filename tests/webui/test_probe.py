"""ffprobe of an upload over HTTP: a playlist naming other addresses makes it fetch nothing, and the
refusal tells the client neither the object's presigned URL nor its signature.

Both servers listen on loopback: one serves the uploaded bytes as the object store would, the other
stands for an internal address and must see no connection.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.stack.media import make_wav
from dubbing_webui.probe import ProbeError, media_summary, probe_url


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server of ``tmp_path``; yields its base URL and the folder."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_hls_playlist_upload_fetches_nothing_and_leaks_no_url(served: tuple[str, Path]) -> None:
    base, folder = served
    internal = socket.create_server(("127.0.0.1", 0))
    internal.setblocking(False)
    try:
        port = internal.getsockname()[1]
        (folder / "talk.mp4").write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
            f"http://127.0.0.1:{port}/latest/meta-data/seg0.ts\n#EXT-X-ENDLIST\n"
        )
        url = f"{base}/talk.mp4?X-Amz-Credential=minio&X-Amz-Signature=0123abcd"
        with pytest.raises(ProbeError) as info:
            probe_url(url, timeout_s=30)
        with pytest.raises(BlockingIOError):
            internal.accept()  # nothing connected
    finally:
        internal.close()
    message = str(info.value)
    for leak in ("http", "X-Amz", "0123abcd", "127.0.0.1", str(port)):
        assert leak not in message, message


def test_real_media_still_probes(served: tuple[str, Path]) -> None:
    base, folder = served
    make_wav(folder / "talk.wav", 200_000)
    summary = media_summary(probe_url(f"{base}/talk.wav?X-Amz-Signature=0123abcd", timeout_s=30))
    assert summary["audio"] is True and summary["format"] == "wav"


def test_not_media_refusal_names_no_url(served: tuple[str, Path]) -> None:
    base, folder = served
    (folder / "notes.mp4").write_bytes(b"these are not video frames " * 100)
    with pytest.raises(ProbeError) as info:
        probe_url(f"{base}/notes.mp4?X-Amz-Signature=0123abcd", timeout_s=30)
    assert "not a media file" in str(info.value)
    assert "http" not in str(info.value) and "0123abcd" not in str(info.value)
