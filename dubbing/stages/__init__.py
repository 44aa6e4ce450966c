"""The pipeline's stages: one module per stage, and the runtime that runs any of them.

``python -m dubbing.stages.runtime <stage>`` / ``dubbing stage <stage>`` runs one stage of
a DubbingJob (in a Pod or on a laptop); :mod:`dubbing.stages.pipeline` runs them all in
one process (``dubbing run``). The runtime: :mod:`runtime` (the entry point), :mod:`context`
(what a stage sees), :mod:`cache` (the cache algorithm of one unit of work), :mod:`runner`
(one stage), :mod:`datatypes`, :mod:`base` (the ``Stage`` class), :mod:`jobfile`.
Decisions are pure functions in their own modules: :mod:`cachekey`, :mod:`layout`,
:mod:`timefit`, :mod:`ratefit`, :mod:`retime`, :mod:`fitreport`, :mod:`speakerpitch`, :mod:`subtitles`, :mod:`plan`, :mod:`speakerrefs`, :mod:`langcodes`,
:mod:`termination`, :mod:`progress`.
"""
