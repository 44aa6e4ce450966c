"""dubbing: the stage runtime, the DubbingJob API types and the `dubbing` command."""

__version__ = "0.1.0"
