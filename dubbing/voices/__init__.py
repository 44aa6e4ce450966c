"""Voices per speaker: the per-user voice library (:mod:`.library`), the cleanest spans of a
speaker for their reference clip (:mod:`.refspans`), saving a voice from a finished job
(:mod:`.fromjob`) and the checks of a job's ``spec.voices`` (:mod:`.check`)."""
