"""How good is a dub: the scorecard the ``score`` stage writes for every target language.

- :mod:`dubbing.quality.metrics`: text normalisation, word and character error rates (pure).
- :mod:`dubbing.quality.scorecard`: the scorecard's sections and its compact summary from
  measurements (pure functions of numbers, texts and arrays).
- :mod:`dubbing.quality.measure`: the measuring itself (ASR back-transcription, speaker
  embeddings, EBU R128 loudness, speech onsets) on local files.
"""
