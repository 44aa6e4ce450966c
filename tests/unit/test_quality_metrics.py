"""The scorecard's text metrics (dubbing.quality.metrics): normalisation, WER, CER."""

import random

import pytest

from dubbing.quality.metrics import (
    MAX_TRACE_CELLS,
    align,
    character_error_rate,
    edit_distance,
    normalise_text,
    normalise_words,
    word_alignment,
    word_error_rate,
)  # fmt: skip


def reference_distance(a, b) -> int:
    """The textbook O(n·m) Levenshtein recurrence, to check the vectorised one against."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


def test_normalise_drops_punctuation_and_case() -> None:
    assert normalise_words("Hello, World! It's me.") == ["hello", "world", "it's", "me"]
    # accents stay (they are letters in the target languages), NFKC folds compatibility forms
    assert normalise_words("Olá — você está AQUI?") == ["olá", "você", "está", "aqui"]
    assert normalise_words("ﬁm") == ["fim"]
    assert normalise_text("  Bom  dia,\nmundo! ") == "bom dia mundo"
    assert normalise_words("") == [] and normalise_words("...") == []


def test_edit_distance_counts_each_kind_of_error() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "b", "c"]) == 0
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1  # substitution
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1  # deletion
    assert edit_distance(["a", "b"], ["a", "b", "c", "d"]) == 2  # insertions
    assert edit_distance([], ["a"]) == 1
    assert edit_distance("kitten", "sitting") == 3


def test_vectorised_distance_matches_the_textbook_recurrence() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        assert edit_distance(a, b) == reference_distance(a, b), (a, b)
        traced = align(a, b)
        assert traced.distance == reference_distance(a, b)
        if a and b:
            assert traced.substitutions + traced.deletions + traced.insertions == traced.distance
            assert traced.deletions - traced.insertions == len(a) - len(b)


def test_alignment_kinds_and_rates() -> None:
    got = word_alignment("the cat sat on the mat", "the cat sat on a mat today")
    assert (got.distance, got.substitutions, got.deletions, got.insertions) == (2, 1, 0, 1)
    assert got.rate == pytest.approx(2 / 6)
    assert word_alignment("one two", "").deletions == 2
    assert word_alignment("", "").rate == 0.0 and word_alignment("", "hallucinated words").rate == 1.0


def test_word_error_rate() -> None:
    assert word_error_rate("the cat sat on the mat", "The cat sat on the mat.") == 0.0
    assert word_error_rate("the cat sat on the mat", "the cat sat on a mat") == 1 / 6
    assert word_error_rate("one two", "") == 1.0
    assert word_error_rate("one", "one two three four") == 3.0  # insertions: a rate, not a share


def test_character_error_rate() -> None:
    assert character_error_rate("Bom dia!", "bom dia") == 0.0
    assert character_error_rate("bom dia", "bom tia") == pytest.approx(1 / 7)  # spaces count
    assert character_error_rate("você", "voce") == pytest.approx(1 / 4)  # an accent is a letter
    assert character_error_rate("abc", "") == 1.0


def test_long_texts_are_fast_and_skip_the_trace_beyond_the_limit() -> None:
    import time

    rng = random.Random(3)
    words = [rng.choice(["casa", "dia", "bom", "livro", "tarde", "noite"]) for _ in range(2500)]
    noisy = [w if rng.random() > 0.1 else "x" for w in words]
    started = time.monotonic()
    chars = character_error_rate(" ".join(words), " ".join(noisy))
    assert time.monotonic() - started < 5.0
    assert 0.0 < chars < 0.2
    big = align(words * 2, noisy * 2)  # (5001 × 5001) cells > MAX_TRACE_CELLS: distance only
    assert (len(words) * 2 + 1) ** 2 > MAX_TRACE_CELLS and big.substitutions is None and big.distance > 0
