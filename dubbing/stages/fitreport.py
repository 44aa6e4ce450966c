"""What each dubbed line needed to fit, for the mix's ``timefit.json`` (pure).

Per segment, on top of its placement (:class:`dubbing.stages.timefit.Placement`): the
speaking ``rate`` the tts stage read it at (1.0 = normal), the ``stretch`` the mix played it
at (``atempo``), the ``videoSlowdown`` over it (``mix.fit: slowVideo``; 1.0 = none) and the
``residualOverrunSeconds`` still past its window after all three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import retime, timefit


def segment_report(placement: timefit.Placement, clip: Mapping[str, Any], retiming: retime.Retiming) -> dict[str, Any]:
    data = placement.as_dict()
    data["rate"] = round(float(clip.get("rate", 1.0)), 4)
    if clip.get("normalSeconds") is not None:
        data["normalSeconds"] = round(float(clip["normalSeconds"]), 4)
    data["stretch"] = round(placement.tempo, 4)
    data["videoSlowdown"] = round(retiming.slowdown_at(placement.start, placement.end), 4) if retiming.spans else 1.0
    data["residualOverrunSeconds"] = round(placement.overflow, 4)
    if retiming.spans:
        data["sourceStart"] = round(retiming.to_source(placement.start), 4)
    return data


def summary(reports: Sequence[Mapping[str, Any]], retiming: retime.Retiming) -> dict[str, Any]:
    """How many lines were read faster or played over a slowed video, and the largest of each."""
    return {
        "readFaster": sum(1 for r in reports if float(r.get("rate", 1.0)) > 1.0),
        "maxRate": round(max((float(r.get("rate", 1.0)) for r in reports), default=1.0), 4),
        "videoSlowed": sum(1 for r in reports if float(r.get("videoSlowdown", 1.0)) > 1.0),
        "maxVideoSlowdown": round(max((s.factor for s in retiming.spans), default=1.0), 4),
        "addedSeconds": round(retiming.output_duration - retiming.source_duration, 4) if retiming.spans else 0.0,
    }
