"""The per-segment TTS cache key: what makes a clip the same clip (pure)."""

from __future__ import annotations

from dubbing.stages.clipcache import segment_key

BASE = {
    "backend_identity": {"name": "kokoro", "model": "v1"},
    "options": {"backend": "auto", "maxRate": 1.3, "timeoutSeconds": 60},
    "language": "pt-BR",
    "text": "Olá.",
    "speaker": "S0",
    "voice": "pf_dora",
    "reference_sha256": "a" * 64,
    "rate": 1.0,
}


def key(**changes):
    return segment_key(**{**BASE, **changes})


def test_same_clip_same_key_and_scheduling_or_max_rate_do_not_matter():
    assert key() == key()
    assert key(options={"backend": "kokoro", "maxRate": 1.5, "gpus": 1}) == key()


def test_everything_that_changes_the_sound_changes_the_key():
    changed = [
        key(text="Oi."),
        key(speaker="S1"),
        key(voice="pm_alex"),
        key(reference_sha256="b" * 64),
        key(rate=1.2),
        key(language="es"),
        key(backend_identity={"name": "kokoro", "model": "v2"}),
        key(options={"speed": 1.1}),
    ]
    assert len(set(changed)) == len(changed) and key() not in changed
