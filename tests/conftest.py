"""Shared pytest configuration: each area's fixtures live in tests/fixtures/<area>.py."""

import os

# Before anything imports onnxruntime (see dubbing/__init__.py), here and in every process a test starts.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

pytest_plugins = [
    "tests.fixtures.cluster",
    "tests.fixtures.minio",
    "tests.fixtures.redis",
    "tests.fixtures.postgres",
    "tests.fixtures.media",
    "tests.fixtures.crd",
    "tests.fixtures.host",
    "tests.fixtures.hub",
    "tests.fixtures.llm",
]
