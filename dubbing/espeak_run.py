"""espeak-ng as a subprocess that leaves nothing on the host.

Debian's espeak-ng opens PulseAudio (through pcaudiolib) even when it only writes a WAV file, and
libpulse then creates its runtime folder, ``$TMPDIR/pulse-<machine id>``, and leaves it there. Each
run here gets a runtime folder of its own that goes when the run ends.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence


def run_espeak(argv: Sequence[str], *, text: str | None = None, timeout: float | None = None) -> None:
    """Run espeak-ng (``argv[0]``) with ``text`` on its stdin; raise CalledProcessError with its stderr on failure."""
    with tempfile.TemporaryDirectory(prefix="espeak-") as runtime:
        subprocess.run(
            list(argv),
            input=None if text is None else text.encode("utf-8"),
            check=True,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "PULSE_RUNTIME_PATH": runtime},
        )
