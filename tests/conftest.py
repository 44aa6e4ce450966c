"""Shared pytest configuration: each area's fixtures live in tests/fixtures/<area>.py."""

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
