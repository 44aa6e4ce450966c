"""Evaluation helpers: word error rate. Moved into the package (:mod:`dubbing.quality.metrics`),
where the score stage uses them; re-exported here for the tests that import them from here."""

from __future__ import annotations

from dubbing.quality.metrics import character_error_rate, edit_distance, normalise_words, word_error_rate

__all__ = ["character_error_rate", "edit_distance", "normalise_words", "word_error_rate"]
