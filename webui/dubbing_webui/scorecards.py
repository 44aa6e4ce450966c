"""The dub's scorecard where people look: the job page's panel per language and the JSON API.

The headline figures come from ``status.outputs.languages[].quality`` (the operator copies the
score stage's summary there); everything else from the scorecard itself
(``dubbing.dev/scorecard/v1``, see docs/pipeline.md), read from the store by the web UI for a job
the user may see.  The pure half turns a scorecard into what the page shows: headline rows with
a flag where a figure needs a look (always with words, never colour alone), the sections' details,
and the per-segment strip (positions in % of the media's length).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from dubbing.api import v1alpha1 as api

from .jobs import JobService
from .objects import ObjectMissing, ObjectStore
from .store import User

MiB = 1024 * 1024
#: A scorecard is a few kB per hundred segments; a bigger object is not one.
MAX_SCORECARD_BYTES = 4 * MiB
MINUS = "\u2212"

# When a headline figure gets a "check" flag (a hint where to look, not a verdict).
WER_CHECK = 0.15  # more than about one word in seven heard wrong
LOUDNESS_CHECK_LU = 1.0  # integrated loudness off its target by more than 1 LU
DRIFT_CHECK_SECONDS = 0.5  # a dubbed line starting half a second off its source line
DEFAULT_TRUE_PEAK_LIMIT = -1.5  # the mix's limit (dubbing.stages.mix.TRUE_PEAK) when the scorecard does not say

#: The strip's width: at least this many pixels per second of media (it scrolls sideways on a
#: phone), never wider than STRIP_MAX_PX.
STRIP_PX_PER_SECOND = 14
STRIP_MAX_PX = 40000
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


#: The time-fit's statuses (dubbing.stages.timefit) in words, in the order they are tried.
STATUS_WORDS = (("fits", "fit their slot"), ("usesPause", "ran into the pause after"), ("stretched", "sped up"),
                ("tooLong", "did not fit"))  # fmt: skip


class ScorecardNotFound(LookupError):
    """No scorecard for that language (the job has not been scored, or not into that language)."""


class LanguageChoice(ValueError):
    """``lang`` is missing while the job has several target languages, or is not one of them."""


class ScorecardUnreadable(RuntimeError):
    """The store did not give the scorecard back, or what it gave is not one."""


# ---------------------------------------------------------------- formatting


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(float(value)) else None


def signed(value: Any, digits: int = 1, plus: bool = False) -> str:
    """A number with a typographic minus (−16.2); ``plus`` marks positive ones (+0.3); "n/a" for none."""
    v = _num(value)
    if v is None:
        return "n/a"
    text = f"{abs(v):.{digits}f}"
    if float(text) == 0:
        return text
    return (MINUS + text) if v < 0 else (("+" + text) if plus else text)


def percent(value: Any) -> str:
    """A ratio as a percentage: one decimal under 10 % (WER 1.5 %), whole numbers above (WER 31 %)."""
    v = _num(value)
    if v is None:
        return "n/a"
    return f"{v * 100:.1f} %" if abs(v) < 0.1 and v != 0 else f"{v * 100:.0f} %"


def seconds(value: Any, digits: int = 2) -> str:
    v = _num(value)
    return "n/a" if v is None else f"{signed(v, digits)} s"


def clock(value: float) -> str:
    """m:ss (h:mm:ss past an hour) for the strip's ticks."""
    total = int(round(value))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ------------------------------------------------------------------ headline


def _section(card: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    value = (card or {}).get(name)
    return dict(value) if isinstance(value, Mapping) else {}


def figures(quality: Mapping[str, Any] | None, card: Mapping[str, Any] | None) -> dict[str, Any]:
    """The headline figures: the status's, completed from the scorecard's own summary where the
    status holds fewer (the termination message had no room for all of them)."""
    merged = dict(_section(card, "summary"))
    merged.update({k: v for k, v in (quality or {}).items() if v is not None})
    return merged


def _row(key: str, label: str, value: str, detail: str = "", flag: str | None = None) -> dict[str, Any]:
    return {"key": key, "label": label, "value": value, "detail": detail, "flag": flag}


def _unmeasured(key: str, label: str, card: Mapping[str, Any] | None, section: str) -> dict[str, Any]:
    why = _section(card, section).get("error")
    return _row(key, label, "not measured", str(why) if why else "", None)


def headline(quality: Mapping[str, Any] | None, card: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The panel's headline rows: intelligibility, timing, voices (source↔dub, dub↔dub), loudness, onset drift.

    Each row: ``key``, ``label``, ``value``, ``detail`` and ``flag`` (a short word when the figure
    needs a look, else None)."""
    f = figures(quality, card)
    rows = []

    wer, cer = _num(f.get("wer")), _num(f.get("cer"))
    if wer is None:
        rows.append(_unmeasured("intelligibility", "Heard back", card, "intelligibility"))
    else:
        rows.append(
            _row(
                "intelligibility",
                "Heard back",
                f"WER {percent(wer)}",
                f"CER {percent(cer)}" if cer is not None else "",
                "high" if wer > WER_CHECK else None,
            )
        )

    in_slot, total, share = f.get("inSlot"), f.get("segments"), _num(f.get("fitShare"))
    overrun = _num(f.get("overrunSeconds"))
    if isinstance(in_slot, int) and isinstance(total, int) and total > 0:
        value = f"{in_slot}/{total} in slot"
        misfit = in_slot < total
    elif share is not None:
        value, misfit = f"{percent(share)} in slot", share < 1.0
    else:
        value, misfit = "", False
    if value:
        rows.append(_row("timing", "Timing", value, f"overrun {seconds(overrun or 0.0, 1)}" if overrun is not None else "",
                         "misfits" if misfit else None))  # fmt: skip
    else:
        rows.append(_unmeasured("timing", "Timing", card, "timing"))

    voice = _section(card, "voice")
    low = _num(f.get("minSourceSimilarity"))
    per_speaker = ", ".join(f"{s.get('speaker')} {signed(s.get('sourceSimilarity'), 2)}" for s in voice.get("speakers") or []
                            if _num(s.get("sourceSimilarity")) is not None)  # fmt: skip
    if low is None:
        rows.append(_unmeasured("voice", "Source\u2194dub voice", card, "voice"))
    else:
        rows.append(_row("voice", "Source\u2194dub voice", f"min {signed(low, 2)}", per_speaker))

    cross, same = _num(f.get("maxCrossSpeakerSimilarity")), _num(f.get("sameSpeakerSimilarity"))
    if cross is None:
        one = len(voice.get("speakers") or []) == 1
        rows.append(_row("voices", "Dub\u2194dub voices", "one speaker" if one else "not measured",
                         "" if one else str(voice.get("error") or "")))  # fmt: skip
    else:
        distinct = None if same is None else cross < same
        verdict = {True: "distinct", False: "too alike", None: ""}[distinct]
        detail = f"same-speaker {signed(same, 2)}" + (f": {verdict}" if verdict else "") if same is not None else ""
        rows.append(_row("voices", "Dub\u2194dub voices", f"max {signed(cross, 2)}", detail,
                         "too alike" if distinct is False else None))  # fmt: skip

    loud = _section(card, "loudness")
    lufs, peak = _num(f.get("lufs")), _num(f.get("truePeak"))
    if lufs is None:
        rows.append(_unmeasured("loudness", "Loudness", card, "loudness"))
    else:
        target = _num(loud.get("targetLufs"))
        limit = _num(loud.get("truePeakLimitDbtp"))
        parts = []
        if target is not None:
            parts.append(f"target {signed(target, 1)}")
        if peak is not None:
            parts.append(f"true peak {signed(peak, 1)} dBTP")
        off = target is not None and abs(lufs - target) > LOUDNESS_CHECK_LU
        over = peak is not None and peak > (limit if limit is not None else DEFAULT_TRUE_PEAK_LIMIT) + 0.05
        flag = "off target" if off else ("peak over" if over else None)
        rows.append(_row("loudness", "Loudness", f"{signed(lufs, 1)} LUFS", " · ".join(parts), flag))

    median, worst = _num(f.get("onsetDriftMedian")), _num(f.get("onsetDriftMax"))
    if median is None:
        rows.append(_unmeasured("sync", "Onset drift", card, "sync"))
    else:
        rows.append(_row("sync", "Onset drift", f"median {seconds(median)}", f"max {seconds(worst)}" if worst is not None else "",
                         "late/early" if worst is not None and worst > DRIFT_CHECK_SECONDS else None))  # fmt: skip
    return rows


# ------------------------------------------------------------------- details


def details(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each section's details for the panel's disclosure parts (``error`` where it was not measured)."""
    if not card:
        return {}
    it, tm, vo, lo, sy = (_section(card, n) for n in ("intelligibility", "timing", "voice", "loudness", "sync"))
    out: dict[str, Any] = {"language": card.get("language"), "sourceLanguage": card.get("sourceLanguage")}
    out["intelligibility"] = {"error": it["error"]} if it.get("error") else {
        "transcribed": it.get("transcribed"),
        "asr": " ".join(str(v) for v in ((it.get("asr") or {}).get("backend"), (it.get("asr") or {}).get("model")) if v),
        "words": it.get("referenceWords"),
        "edits": it.get("wordEdits") or {},
        "linesWithErrors": it.get("linesWithErrors"),
        "worst": [{"id": w.get("id"), "speaker": w.get("speaker"), "wer": percent(w.get("wer")), "reference": w.get("reference"),
                   "heard": w.get("heard")} for w in it.get("worstLines") or []],
        "mixWer": percent((it.get("mix") or {}).get("wer")) if (it.get("mix") or {}).get("wer") is not None else None,
    }  # fmt: skip
    counts = tm.get("counts") or {}
    out["timing"] = {"error": tm["error"]} if tm.get("error") else {
        "counts": [f"{label} {counts[key]}" for key, label in STATUS_WORDS if counts.get(key)]
                  + [f"{key} {n}" for key, n in counts.items() if key not in dict(STATUS_WORDS) and n],
        "allowedStretch": tm.get("allowedStretch"),
        "maxTempoUsed": tm.get("maxTempoUsed"),
        "misfits": [misfit_text(m) for m in tm.get("misfits") or []],
    }  # fmt: skip
    out["voice"] = {"error": vo["error"]} if vo.get("error") else {
        "encoder": vo.get("encoder"),
        "speakers": [{"speaker": s.get("speaker"), "source": signed(s.get("sourceSimilarity"), 2),
                      "dubSelf": signed(s.get("dubSelfSimilarity"), 2), "sourceSeconds": s.get("sourceSeconds"),
                      "dubSeconds": s.get("dubSeconds")} for s in vo.get("speakers") or []],
        "pairs": [{"a": p.get("a"), "b": p.get("b"), "similarity": signed(p.get("similarity"), 2)} for p in vo.get("crossSpeakerPairs") or []],
        "same": signed(vo.get("sameSpeakerSimilarity"), 2),
        "distinct": vo.get("voicesDistinct"),
    }  # fmt: skip
    out["loudness"] = {"error": lo["error"]} if lo.get("error") else {
        "integrated": signed(lo.get("integratedLufs"), 1), "target": signed(lo.get("targetLufs"), 1),
        "deviation": signed(lo.get("deviationLu"), 1, plus=True), "truePeak": signed(lo.get("truePeakDbtp"), 1),
        "limit": signed(lo.get("truePeakLimitDbtp"), 1), "range": signed(lo.get("loudnessRangeLu"), 1),
        "overLimit": lo.get("truePeakOverLimit"),
    }  # fmt: skip
    out["sync"] = {"error": sy["error"]} if sy.get("error") else {
        "median": seconds(sy.get("onsetDriftMedianSeconds")), "max": seconds(sy.get("onsetDriftMaxAbsSeconds")),
        "meanAbs": seconds(sy.get("onsetDriftMeanAbsSeconds")), "measured": sy.get("measured"),
        "withoutOnset": sy.get("segmentsWithoutOnset"),
        "worst": [{"id": w.get("id"), "drift": seconds(w.get("driftSeconds"))} for w in sy.get("worst") or []],
    }  # fmt: skip
    return out


def misfit_text(m: Mapping[str, Any]) -> str:
    who = f" ({m['speaker']})" if m.get("speaker") else ""
    return (f"#{m.get('id')}{who} at {signed(m.get('startSeconds'), 1)} s: needs {signed(m.get('neededStretch'), 2)}x, "
            f"allowed {signed(m.get('allowedStretch'), 2)}x; ran {signed(m.get('overrunSeconds'), 2)} s past its slot"
            + needs_text(m))  # fmt: skip


def needs_text(r: Mapping[str, Any]) -> str:
    """What else a segment needed besides the stretch: a faster reading, a slowed video ('' when neither)."""
    rate, slowdown = _num(r.get("rate")) or 1.0, _num(r.get("videoSlowdown")) or 1.0
    return (f" \u00b7 read at {rate:.2f}x" if rate > 1.0 else "") + (
        f" \u00b7 video slowed {slowdown:.2f}x" if slowdown > 1.0 else ""
    )


# --------------------------------------------------------------------- strip


def _pct(value: float, span: float) -> float:
    return round(100.0 * value / span, 3)


def tick_step(span: float, max_ticks: int) -> int:
    for step in TICK_STEPS:
        if span / step <= max_ticks:
            return step
    return TICK_STEPS[-1] * math.ceil(span / (TICK_STEPS[-1] * max_ticks))


def strip(card: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The per-segment strip: each segment's source slot and its dub as % of the media's length.

    Per segment: ``slotLeft``/``slotWidth`` (the source segment), ``dubLeft``/``dubWidth`` (the
    placed dub), ``boxLeft``/``boxWidth`` (the clickable part: the slot and the dub up to the end of
    its window, so boxes never overlap; a misfit's dub runs on past its box, over the next
    segment, as it does in the mix), the bars' places inside the box (``slotIn``/``dubIn``: left
    and width in % of the box, a misfit's dub over 100), ``misfit`` (it did not fit: played at the
    stretch bound and still ran over), ``label`` (the misfit's words), and ``detail`` (the line
    the page shows when it is picked).  None when the scorecard lists no segments (one written
    before ``timing.placements`` existed, or timing not measured).
    """
    timing = _section(card, "timing")
    rows = [r for r in timing.get("placements") or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    drift = {
        d.get("id"): _num(d.get("driftSeconds"))
        for d in _section(card, "sync").get("perSegment") or []
        if isinstance(d, Mapping)
    }
    ends = [_num(r.get(k)) for r in rows for k in ("end", "slotEnd", "windowEnd")]
    span = max([_num(timing.get("mediaSeconds")) or 0.0, *(e for e in ends if e is not None)])
    span = max(span, 0.001)
    segments = []
    for r in rows:
        start = _num(r.get("start")) or 0.0
        end = max(_num(r.get("end")) or start, start)
        slot_start = _num(r.get("slotStart"))
        slot_start = start if slot_start is None else slot_start
        slot_end = _num(r.get("slotEnd"))
        slot_known = slot_end is not None
        slot_end = max(slot_end if slot_end is not None else slot_start, slot_start)
        window_end = _num(r.get("windowEnd"))
        reach = min(end, window_end) if window_end is not None and window_end > start else end
        box_start, box_end = min(start, slot_start), max(reach, slot_end)
        box = max(box_end - box_start, 1e-6)
        misfit = r.get("inSlot") is False or r.get("status") == "tooLong"
        over = _num(r.get("overrunSeconds")) or 0.0
        tempo = _num(r.get("tempo")) or 1.0
        ident = r.get("id")
        label = f"over +{over:.1f} s" if misfit else ""
        status = {"fits": "fits its slot", "usesPause": "runs into the pause after it",
                  "stretched": f"sped up to {tempo:.2f}x to fit"}.get(str(r.get("status")), str(r.get("status") or ""))  # fmt: skip
        if misfit:
            status = f"does not fit: {over:.2f} s over at {tempo:.2f}x"
        slot_text = f"slot {slot_start:.2f}\u2013{slot_end:.2f} s" if slot_known else f"slot from {slot_start:.2f} s"
        detail = (
            f"#{ident}"
            + (f" \u00b7 {r['speaker']}" if r.get("speaker") else "")
            + f" \u00b7 {slot_text} \u00b7 dub {start:.2f}\u2013{end:.2f} s \u00b7 {status}"
        )
        detail += needs_text(r)
        if drift.get(ident) is not None:
            detail += f" \u00b7 onset drift {seconds(drift[ident])}"
        segments.append({
            "id": ident, "speaker": r.get("speaker"), "text": r.get("text") or "", "status": r.get("status"),
            "slotStart": slot_start, "slotEnd": slot_end, "slotKnown": slot_known, "start": start, "end": end,
            "misfit": misfit, "overrunSeconds": over, "tempo": tempo, "label": label, "detail": detail,
            "slotLeft": _pct(slot_start, span), "slotWidth": _pct(slot_end - slot_start, span),
            "dubLeft": _pct(start, span), "dubWidth": _pct(end - start, span),
            "boxLeft": _pct(box_start, span), "boxWidth": _pct(box_end - box_start, span),
            "slotIn": (_pct(slot_start - box_start, box), _pct(slot_end - slot_start, box)),
            "dubIn": (_pct(start - box_start, box), _pct(end - start, box)),
        })  # fmt: skip
    width = int(min(STRIP_MAX_PX, max(1.0, span) * STRIP_PX_PER_SECOND))
    step = tick_step(span, max(4, min(12, width // 90)))
    ticks = [{"left": _pct(t, span), "label": clock(t)} for t in range(0, int(span) + 1, step)]
    return {"seconds": round(span, 3), "minWidthPx": width, "segments": segments, "ticks": ticks,
            "misfits": sum(1 for s in segments if s["misfit"])}  # fmt: skip


# ------------------------------------------------------------------ per job


def languages_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``status.outputs.languages`` entries that carry a scorecard or its figures, in the job's order."""
    outs = ((obj.get("status") or {}).get("outputs") or {}).get("languages") or []
    return [dict(o) for o in outs if isinstance(o, Mapping) and (o.get("report") or o.get("quality"))]


def pick_language(obj: Mapping[str, Any], lang: str | None) -> dict[str, Any]:
    """The output entry of ``lang`` (or of the one target language when ``lang`` is None)."""
    targets = list((obj.get("spec") or {}).get("targetLanguages") or [])
    if lang is None:
        if len(targets) != 1:
            raise LanguageChoice(f"say which language: lang is one of {', '.join(targets)}")
        lang = targets[0]
    if lang not in targets:
        raise LanguageChoice(f"{lang} is not a target language of this job (those are {', '.join(targets)})")
    for entry in languages_of(obj):
        if entry.get("language") == lang and entry.get("report"):
            return entry
    raise ScorecardNotFound(f"no scorecard for {lang} yet")


def language_view(
    language: str, quality: Mapping[str, Any] | None, card: Mapping[str, Any] | None, error: str | None = None
) -> dict[str, Any]:
    """Everything one language's panel shows."""
    return {"language": language, "headline": headline(quality, card), "details": details(card), "strip": strip(card),
            "error": error, "hasCard": card is not None}  # fmt: skip


def media_for(outputs: Sequence[Mapping[str, Any]], language: str) -> str | None:
    """The URL to play a language's dub from: its audio output, else its video (from the outputs rows)."""
    for kind in ("audio", "video"):
        for row in outputs:
            if row.get("language") == language and row.get("kind") == kind and row.get("play"):
                return str(row["play"])
    return None


class ScorecardService:
    def __init__(self, jobs: JobService, objects: ObjectStore, max_bytes: int = MAX_SCORECARD_BYTES) -> None:
        self.jobs = jobs
        self.objects = objects
        self.max_bytes = max_bytes

    def _bucket(self, obj: Mapping[str, Any]) -> str:
        return ((obj.get("status") or {}).get("outputs") or {}).get("bucket") or self.objects.bucket

    def read(self, obj: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
        """The scorecard an output entry names, from the store (the job must be one the user may see)."""
        key = str(entry.get("report") or "")
        if not key.endswith(".json"):
            raise ScorecardNotFound(f"no scorecard for {entry.get('language')}")
        try:
            raw = self.objects.read_small(self._bucket(obj), key, self.max_bytes)
        except ObjectMissing:
            raise ScorecardNotFound(f"the scorecard of {entry.get('language')} is gone from the store") from None
        except Exception as exc:  # the store's own errors, said in one line
            raise ScorecardUnreadable(f"the scorecard could not be read: {exc}") from exc
        try:
            card = json.loads(raw)
        except ValueError as exc:
            raise ScorecardUnreadable("the scorecard is not JSON") from exc
        if not isinstance(card, dict):
            raise ScorecardUnreadable("the scorecard is not a JSON object")
        return card

    def document(self, user: User, name: str, lang: str | None) -> dict[str, Any]:
        """The whole scorecard of one language of one of the user's jobs (JobNotFound for another's)."""
        obj = self.jobs.get(user, name)
        return self.read(obj, pick_language(obj, lang))

    def panels(self, obj: Mapping[str, Any], outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One panel per scored language of a job the user may see (from ``JobService.get``)."""
        panels = []
        source = self.source_url(obj)
        for entry in languages_of(obj):
            card, error = None, None
            if entry.get("report"):
                try:
                    card = self.read(obj, entry)
                except (ScorecardNotFound, ScorecardUnreadable) as exc:
                    error = str(exc)
            view = language_view(str(entry.get("language")), entry.get("quality"), card, error)
            view["dubUrl"] = media_for(outputs, view["language"])
            view["sourceUrl"] = source
            panels.append(view)
        return panels

    def source_url(self, obj: Mapping[str, Any]) -> str | None:
        """A URL to play the job's original from, when it is the owner's own upload.

        Only an object under ``uploads/<owner>/`` in the uploads bucket: a job's input is whatever
        its manifest says, and the page must not hand out someone else's file."""
        spec_input = (obj.get("spec") or {}).get("input") or {}
        owner = ((obj.get("metadata") or {}).get("labels") or {}).get(api.OWNER_LABEL)
        bucket, key = spec_input.get("bucket"), spec_input.get("key")
        if not owner or bucket != self.objects.bucket or not isinstance(key, str):
            return None
        if not key.startswith(f"uploads/{owner}/") or "/../" in key or key.endswith("/.."):
            return None
        return str(self.objects.presigned_get(bucket, key))
