"""dubbing: the stage runtime, the DubbingJob API types and the `dubbing` command."""

import os

# onnxruntime's Linux wheels (1.32) collect telemetry by default: on import they write a device id and
# an event store under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and a session file $TMPDIR/.ses,
# for upload to Microsoft's collector. Off unless the user turns it on; it must be set before the import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
