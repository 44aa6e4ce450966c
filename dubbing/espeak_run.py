"""espeak-ng as a subprocess that leaves nothing on the host and fails loudly.

Debian's espeak-ng opens PulseAudio (through pcaudiolib) even when it only writes a WAV file, and
libpulse then creates its runtime folder, ``$TMPDIR/pulse-<machine id>``, and leaves it there. Each
run here gets a runtime folder of its own that goes when the run ends.

espeak-ng exits 0 when it cannot write its ``-w`` file (it prints "Can't write to" and goes on), so
a run that was asked for a WAV is judged by the WAV it left, not by its exit status alone.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: A RIFF/WAVE header with no samples after it.
_WAV_HEADER_BYTES = 44


class EspeakError(RuntimeError):
    """espeak-ng failed: its exit status or a WAV it did not write, with what it printed."""


def wav_target(argv: Sequence[str]) -> Path | None:
    """The file ``-w``/``--wavfile`` names in an espeak-ng command line, if any (pure)."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("-w", "--wavfile") and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--wavfile="):
            return Path(arg.split("=", 1)[1])
    return None


def _said(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text[-2000:] if text else "nothing on stderr"


def run_espeak(argv: Sequence[str], *, text: str | None = None, timeout: float | None = None) -> None:
    """Run espeak-ng (``argv[0]``) with ``text`` on its stdin; raise EspeakError, with its stderr,
    when it exits non-zero or leaves no audio in the ``-w`` file it was given."""
    target = wav_target(argv)
    if target is not None:
        target.unlink(missing_ok=True)  # a WAV from an earlier run must not pass for this one's
    with tempfile.TemporaryDirectory(prefix="espeak-") as runtime:
        done = subprocess.run(
            list(argv),
            input=None if text is None else text.encode("utf-8"),
            check=False,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "PULSE_RUNTIME_PATH": runtime},
        )
    if done.returncode != 0:
        raise EspeakError(f"{argv[0]} exited with status {done.returncode}: {_said(done.stderr)}")
    if target is not None and (not target.is_file() or target.stat().st_size <= _WAV_HEADER_BYTES):
        raise EspeakError(f"{argv[0]} wrote no audio to {target}: {_said(done.stderr)}")
