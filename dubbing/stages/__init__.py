"""The pipeline's stages: one module per stage, and the runtime that runs any of them.

``python -m dubbing.stages.runtime <stage>`` / ``dubbing stage <stage>`` runs one stage of
a DubbingJob (in a Pod or on a laptop); :mod:`dubbing.stages.pipeline` runs them all in
one process (``dubbing run``). Decisions are pure functions in their own modules:
:mod:`cachekey`, :mod:`layout`, :mod:`timefit`, :mod:`subtitles`, :mod:`plan`,
:mod:`speakerrefs`, :mod:`langcodes`, :mod:`termination`, :mod:`progress`.
"""
