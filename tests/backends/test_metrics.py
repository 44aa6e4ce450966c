from tests.backends.metrics import edit_distance, normalise_words, word_error_rate


def test_normalise_drops_punctuation_and_case() -> None:
    assert normalise_words("Hello, World! It's me.") == ["hello", "world", "it's", "me"]


def test_edit_distance_counts_each_kind_of_error() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "b", "c"]) == 0
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1  # substitution
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1  # deletion
    assert edit_distance(["a", "b"], ["a", "b", "c", "d"]) == 2  # insertions
    assert edit_distance([], ["a"]) == 1


def test_word_error_rate() -> None:
    assert word_error_rate("the cat sat on the mat", "The cat sat on the mat.") == 0.0
    assert word_error_rate("the cat sat on the mat", "the cat sat on a mat") == 1 / 6
    assert word_error_rate("one two", "") == 1.0
