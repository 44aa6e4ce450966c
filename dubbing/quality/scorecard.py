"""The scorecard of one dubbed language: its sections and its compact summary. Pure functions.

A scorecard is JSON (``apiVersion: dubbing.dev/scorecard/v1``) with five sections; every
number carries its unit in its name or in :data:`UNITS`:

- ``intelligibility``: the dubbed speech transcribed back (ASR, target language) against
  the text that was synthesised: WER and CER (ratios, 0 = perfect; they can exceed 1 when
  the ASR hears words that were never said), the edit counts, the worst lines;
- ``timing``: what the mix's time-fit did (its ``timefit.json``): the share of segments that
  play inside their window within the allowed stretch, the seconds of overrun, the misfits,
  and every segment's slot and placement (``placements``: what the job page's strip draws);
- ``voice``: speaker-encoder cosine similarity (-1..1) of each dubbed voice to its source
  speaker, between different dubbed speakers (two speakers must not sound the same), and the
  same-speaker level to judge those by;
- ``loudness``: integrated loudness (LUFS) and true peak (dBTP) of the dub track against the target;
- ``sync``: per segment, dubbed speech onset minus source speech onset (seconds; ``perSegment``).

A section that could not be measured is ``{"error": "<why>"}``; the others stand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np

from ..stages import retime
from .metrics import character_alignment, normalise_words, word_alignment

API_VERSION = "dubbing.dev/scorecard/v1"
#: Bump when a field's meaning changes (readers compare it).
VERSION = 1

UNITS: dict[str, str] = {
    "wer": "ratio: word edits / reference words (0 = perfect, may exceed 1)",
    "cer": "ratio: character edits / reference characters (0 = perfect, may exceed 1)",
    "fitShare": "ratio: segments inside their window within the allowed stretch / segments",
    "*Seconds": "seconds",
    "*Stretch": "playback speed factor (1.25 = 25 % faster)",
    "*Similarity": "cosine similarity of speaker-encoder embeddings, -1..1 (1 = same voice)",
    "integratedLufs": "LUFS (EBU R128 integrated loudness)",
    "truePeakDbtp": "dBTP (true peak)",
    "loudnessRangeLu": "LU",
    "deviationLu": "LU (measured - target)",
}

#: The compact summary (``status.outputs.languages[].quality``): key → where it comes from.
SUMMARY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("wer", "intelligibility", "wer"),
    ("cer", "intelligibility", "cer"),
    ("mixWer", "intelligibility", "mix.wer"),
    ("fitShare", "timing", "fitShare"),
    ("inSlot", "timing", "inSlot"),
    ("segments", "timing", "segments"),
    ("overrunSeconds", "timing", "overrunSeconds"),
    ("minSourceSimilarity", "voice", "minSourceSimilarity"),
    ("maxCrossSpeakerSimilarity", "voice", "maxCrossSpeakerSimilarity"),
    ("sameSpeakerSimilarity", "voice", "sameSpeakerSimilarity"),
    ("lufs", "loudness", "integratedLufs"),
    ("truePeak", "loudness", "truePeakDbtp"),
    ("onsetDriftMedian", "sync", "onsetDriftMedianSeconds"),
    ("onsetDriftMax", "sync", "onsetDriftMaxAbsSeconds"),
)
#: Kept first when the termination message has no room for the whole summary.
CORE_FIELDS = (
    "wer",
    "fitShare",
    "inSlot",
    "segments",
    "overrunSeconds",
    "minSourceSimilarity",
    "maxCrossSpeakerSimilarity",
    "lufs",
)
#: At most this many lines are listed as the worst heard, and misfits/drifts listed per segment.
WORST_LINES = 5


def _r(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


# ------------------------------------------------------------------------ lines


@dataclass(frozen=True)
class Line:
    """One dubbed segment: what was synthesised, for whom, and where the mix placed it."""

    id: int
    speaker: str
    text: str
    start: float  # where the clip starts in the dub (= the source segment's start)
    end: float  # where it ends after the time-fit (start + placed seconds)
    source_start: float  # the source segment's own start and end (ASR)
    source_end: float


@dataclass(frozen=True)
class HeardWord:
    start: float
    end: float
    word: str


def lines_from(clips: Sequence[Mapping[str, Any]], timefit: Mapping[str, Any]) -> list[Line]:
    """The dubbed lines from the tts stage's ``clips.json`` entries and the mix's ``timefit.json``."""
    placed = {int(p["id"]): p for p in timefit.get("placements") or []}
    lines = []
    for clip in clips:
        ident = int(clip["id"])
        placement = placed.get(ident, {})
        start = float(placement.get("start", clip.get("start", 0.0)))
        seconds = float(placement.get("placed_seconds", clip.get("seconds", 0.0)))
        lines.append(
            Line(ident, str(clip.get("speaker", "S0")), str(clip.get("text") or ""), start, start + seconds,
                 float(clip.get("start", start)), float(clip.get("end", start + seconds)))
        )  # fmt: skip
    return sorted(lines, key=lambda line: (line.start, line.id))


# ------------------------------------------------------------ intelligibility


def assign_words(lines: Sequence[Line], words: Sequence[HeardWord], slack: float = 0.3) -> dict[int, list[str]]:
    """Each heard word goes to the line whose placed span (widened by ``slack``) holds its middle,
    else to the nearest line."""
    heard: dict[int, list[str]] = {line.id: [] for line in lines}
    if not lines:
        return heard
    for word in words:
        middle = (word.start + word.end) / 2
        inside = [line for line in lines if line.start - slack <= middle <= line.end + slack]
        if inside:
            owner = min(inside, key=lambda line: abs(middle - (line.start + line.end) / 2))
        else:
            owner = min(lines, key=lambda line: min(abs(middle - line.start), abs(middle - line.end)))
        heard[owner.id].append(word.word)
    return heard


def transcript_measures(reference: str, hypothesis: str) -> dict[str, Any]:
    words = word_alignment(reference, hypothesis)
    chars = character_alignment(reference, hypothesis)
    return {
        "wer": _r(words.rate, 4),
        "cer": _r(chars.rate, 4),
        "referenceWords": words.reference,
        "heardWords": words.hypothesis,
        "wordEdits": {
            "substitutions": words.substitutions,
            "deletions": words.deletions,
            "insertions": words.insertions,
        },
        "noSpeechHeard": words.hypothesis == 0,
    }


def intelligibility_section(
    lines: Sequence[Line],
    heard_text: str,
    heard_words: Sequence[HeardWord],
    transcribed: str,
    asr: Mapping[str, Any],
    mix: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """WER/CER of what the ASR heard against what was synthesised (lines in placement order)."""
    reference = " ".join(line.text for line in lines)
    if not normalise_words(reference):
        return {"error": "no synthesised text to compare with (no dubbed segments)"}
    section: dict[str, Any] = {
        "transcribed": transcribed,
        "asr": dict(asr),
        **transcript_measures(reference, heard_text),
    }
    per_line: list[dict[str, Any]] = []
    by_line = assign_words(lines, heard_words)
    for line in lines:
        if not normalise_words(line.text):
            continue
        heard = " ".join(by_line.get(line.id, []))
        rate = word_alignment(line.text, heard).rate
        per_line.append(
            {"id": line.id, "speaker": line.speaker, "wer": _r(rate, 3), "reference": line.text, "heard": heard.strip()}
        )
    per_line.sort(key=lambda item: (-(item["wer"] or 0.0), item["id"]))
    section["worstLines"] = [item for item in per_line if (item["wer"] or 0) > 0][:WORST_LINES]
    section["linesWithErrors"] = sum(1 for item in per_line if (item["wer"] or 0) > 0)
    section["heard"] = heard_text.strip()
    if mix is not None:
        section["mix"] = dict(mix)
    return section


# ---------------------------------------------------------------------- timing


def timing_section(
    timefit: Mapping[str, Any], speakers: Mapping[int, str] | None = None, lines: Sequence[Line] | None = None
) -> dict[str, Any]:
    """What the mix's time-fit did, from its ``timefit.json`` (placements and options), not recomputed.

    ``lines`` (from :func:`lines_from`) add each segment's source slot and text to ``placements``;
    without them a slot is taken to start where its clip starts and its end is unknown (None).
    """
    placements = list(timefit.get("placements") or [])
    options = timefit.get("options") or {}
    allowed = float(options.get("maxStretch", 1.0) or 1.0)
    counts: dict[str, int] = {}
    misfits = []
    overrun = 0.0
    for p in placements:
        status = str(p.get("status", ""))
        counts[status] = counts.get(status, 0) + 1
        if status != "tooLong":
            continue
        start = float(p.get("start", 0.0))
        clip = float(p.get("clip_seconds", 0.0))
        window = max(1e-6, float(p.get("window_end", start)) - start)
        over = float(p.get("overflow", 0.0))
        overrun += over
        tempo = float(p.get("tempo", allowed))
        ident = int(p.get("id", -1))
        rate = float(p.get("rate", 1.0) or 1.0)
        slowdown = float(p.get("videoSlowdown", 1.0) or 1.0)
        done = [f"read at {rate:.2f}x"] if rate > 1.0 else []
        done.append(f"played at {tempo:.2f}x (the bound)")
        if slowdown > 1.0:
            done.append(f"over video slowed {slowdown:.2f}x")
        misfits.append({
            "id": ident,
            "speaker": (speakers or {}).get(ident),
            "startSeconds": _r(start),
            "clipSeconds": _r(clip),
            "windowSeconds": _r(window),
            "neededStretch": _r(clip / window, 3),
            "allowedStretch": _r(allowed, 3),
            "overrunSeconds": _r(over),
            "rate": _r(rate, 3),
            "stretch": _r(tempo, 3),
            "videoSlowdown": _r(slowdown, 3),
            "action": f"{', '.join(done)} and ran {over:.2f} s past its window",
        })  # fmt: skip
    total = len(placements)
    inside = total - len(misfits)
    return {
        "segments": total,
        "inSlot": inside,
        "fitShare": _r(inside / total, 4) if total else None,
        "overrunSeconds": _r(overrun),
        "allowedStretch": _r(allowed, 3),
        "maxTempoUsed": _r(max((float(p.get("tempo", 1.0)) for p in placements), default=1.0), 3),
        "maxRateUsed": _r(max((float(p.get("rate", 1.0) or 1.0) for p in placements), default=1.0), 3),
        "readFaster": sum(1 for p in placements if float(p.get("rate", 1.0) or 1.0) > 1.0),
        "fit": str(options.get("fit", "stretch")),
        "videoSlowed": sum(1 for p in placements if float(p.get("videoSlowdown", 1.0) or 1.0) > 1.0),
        "addedSeconds": _r(_added_seconds(timefit)),
        "counts": counts,
        "misfits": misfits,
        "mediaSeconds": _r(_number(timefit.get("durationSeconds"))),
        "placements": segment_placements(placements, speakers, lines, retime.from_dict(timefit.get("retime"))),
        "source": "mix timefit.json",
    }


def _added_seconds(timefit: Mapping[str, Any]) -> float:
    """Seconds the slowed video spans added to the output (0 without ``fit: slowVideo``)."""
    retiming = retime.from_dict(timefit.get("retime"))
    return retiming.output_duration - retiming.source_duration if retiming.spans else 0.0


def segment_placements(
    placements: Sequence[Mapping[str, Any]],
    speakers: Mapping[int, str] | None = None,
    lines: Sequence[Line] | None = None,
    retiming: retime.Retiming | None = None,
) -> list[dict[str, Any]]:
    """Every segment in time order: its source slot, where the dub was placed and how fast it plays.

    ``slotStart``/``slotEnd``: the source segment (what the dub should cover); ``start``/``end``:
    the placed dub; ``windowEnd``: the latest it could end without overlapping the next segment;
    ``inSlot``: false for a misfit (``tooLong``: played at the stretch bound and still ran over).
    What the line needed: ``rate`` (read faster by the TTS), ``tempo`` (stretched by the mix),
    ``videoSlowdown`` (the video slowed under it), ``overrunSeconds`` (what still ran over).
    All times on the output timeline (the source slot moved with a slowed video, if any).
    """
    by_id = {line.id: line for line in lines or ()}
    moved = (retiming or retime.Retiming()).to_output
    out = []
    for p in placements:
        ident = int(p.get("id", -1))
        line = by_id.get(ident)
        start = float(p.get("start", 0.0))
        placed = float(p.get("placed_seconds", p.get("clip_seconds", 0.0)))
        status = str(p.get("status", ""))
        out.append({
            "id": ident,
            "speaker": line.speaker if line else (speakers or {}).get(ident),
            "slotStart": _r(moved(line.source_start) if line else start),
            "slotEnd": _r(moved(line.source_end)) if line else None,
            "start": _r(start),
            "end": _r(start + placed),
            "windowEnd": _r(_number(p.get("window_end"))),
            "clipSeconds": _r(_number(p.get("clip_seconds"))),
            "tempo": _r(_number(p.get("tempo")), 3),
            "rate": _r(float(p.get("rate", 1.0) or 1.0), 3),
            "videoSlowdown": _r(float(p.get("videoSlowdown", 1.0) or 1.0), 3),
            "status": status,
            "inSlot": status != "tooLong",
            "overrunSeconds": _r(float(p.get("overflow", 0.0) or 0.0)) if status == "tooLong" else 0.0,
            "text": line.text if line else None,
        })  # fmt: skip
    out.sort(key=lambda item: (item["start"] or 0.0, item["id"]))
    return out


# ----------------------------------------------------------------------- voice


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.dot(a, b) / ((np.linalg.norm(a) * np.linalg.norm(b)) + 1e-12))


def _max_pair(vectors: Mapping[str, np.ndarray]) -> tuple[float | None, list[dict[str, Any]]]:
    names = sorted(vectors)
    pairs: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs.append({"a": a, "b": b, "similarity": _r(cosine(vectors[a], vectors[b]))})
    pairs.sort(key=lambda item: -(item["similarity"] or -2.0))
    return (pairs[0]["similarity"] if pairs else None), pairs


def voice_section(
    source: Mapping[str, np.ndarray],
    dub: Mapping[str, np.ndarray],
    seconds: Mapping[str, Mapping[str, float]],
    dub_self: Mapping[str, float | None] | None = None,
    source_self: Mapping[str, float | None] | None = None,
    encoder: str = "",
) -> dict[str, Any]:
    """Source↔dub similarity per speaker, dub↔dub across speakers, and the same-speaker level.

    ``dub_self``: per speaker, the similarity of one half of their dubbed lines to the other
    half (how alike one voice is to itself); the smallest is ``sameSpeakerSimilarity``, the
    level a cross-speaker similarity must stay below for two voices to be told apart.
    """
    speakers = []
    for speaker in sorted(set(source) | set(dub)):
        entry: dict[str, Any] = {"speaker": speaker, **{k: _r(v, 2) for k, v in (seconds.get(speaker) or {}).items()}}
        if speaker in source and speaker in dub:
            entry["sourceSimilarity"] = _r(cosine(source[speaker], dub[speaker]))
        if dub_self and dub_self.get(speaker) is not None:
            entry["dubSelfSimilarity"] = _r(dub_self[speaker])
        if source_self and source_self.get(speaker) is not None:
            entry["sourceSelfSimilarity"] = _r(source_self[speaker])
        speakers.append(entry)
    similarities = [e["sourceSimilarity"] for e in speakers if e.get("sourceSimilarity") is not None]
    cross, pairs = _max_pair(dub)
    source_cross, _ = _max_pair(source)
    own = [v for v in (dub_self or {}).values() if v is not None]
    same = _r(min(own)) if own else None
    return {
        "encoder": encoder,
        "speakers": speakers,
        "minSourceSimilarity": min(similarities) if similarities else None,
        "maxCrossSpeakerSimilarity": cross,
        "crossSpeakerPairs": pairs[:10],
        "sameSpeakerSimilarity": same,
        "voicesDistinct": None if cross is None or same is None else bool(cross < same),
        "sourceMaxCrossSpeakerSimilarity": source_cross,
    }


# -------------------------------------------------------------------- loudness


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def loudness_section(measured: Mapping[str, Any] | None, target_lufs: float, true_peak_limit: float) -> dict[str, Any]:
    """EBU R128 figures of the dub track (ffmpeg ``ebur128`` keys ``input_i``/``input_tp``/``input_lra``)."""
    if not measured:
        return {"error": "the loudness measurement could not be read"}
    integrated = _number(measured.get("input_i"))
    peak = _number(measured.get("input_tp"))
    return {
        "integratedLufs": _r(integrated, 2),
        "truePeakDbtp": _r(peak, 2),
        "loudnessRangeLu": _r(_number(measured.get("input_lra")), 2),
        "targetLufs": _r(target_lufs, 2),
        "deviationLu": _r(integrated - target_lufs, 2) if integrated is not None else None,
        "truePeakLimitDbtp": _r(true_peak_limit, 2),
        "truePeakOverLimit": None if peak is None else bool(peak > true_peak_limit + 0.05),
        "measuredWith": "ffmpeg ebur128 (peak=true)",
        "silent": integrated is None,
    }


# ------------------------------------------------------------------------ sync


def active_frames(energy_db: np.ndarray, threshold_db: float, min_run: int) -> np.ndarray:
    """Frames above the threshold, keeping only runs of at least ``min_run`` frames (clicks dropped)."""
    active = energy_db > threshold_db
    if min_run <= 1 or not active.any():
        return active
    out = np.zeros_like(active)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    for begin, end in zip(edges[::2], edges[1::2], strict=False):
        if end - begin >= min_run:
            out[begin:end] = True
    return out


def speech_threshold(energy_db: np.ndarray, relative_db: float = 30.0, floor_db: float = -55.0) -> float:
    """Speech is within ``relative_db`` of the loud frames (95th percentile), and above a floor."""
    if energy_db.size == 0:
        return floor_db
    return max(floor_db, float(np.percentile(energy_db, 95)) - relative_db)


def onset(active: np.ndarray, frame_seconds: float, begin: float, end: float) -> float | None:
    """The first rising edge (silence → speech) inside [begin, end), in seconds; None if there is none."""
    first = max(0, int(math.floor(begin / frame_seconds)))
    last = min(len(active), int(math.ceil(end / frame_seconds)))
    for index in range(first, last):
        if active[index] and (index == 0 or not active[index - 1]):
            return index * frame_seconds
    return None


def sync_section(drifts: Sequence[Mapping[str, Any]], skipped: int = 0) -> dict[str, Any]:
    """Onset drift (dubbed onset - source onset, seconds) per segment and its median / max absolute."""
    values = [float(item["driftSeconds"]) for item in drifts if item.get("driftSeconds") is not None]
    if not values:
        return {
            "error": "no segment has a speech onset in both the source and the dub",
            "segmentsWithoutOnset": skipped,
        }
    worst = sorted(drifts, key=lambda item: -abs(float(item["driftSeconds"])))[:WORST_LINES]
    return {
        "measured": len(values),
        "segmentsWithoutOnset": skipped,
        "onsetDriftMedianSeconds": _r(median(values)),
        "onsetDriftMaxAbsSeconds": _r(max(abs(v) for v in values)),
        "onsetDriftMeanAbsSeconds": _r(sum(abs(v) for v in values) / len(values)),
        "worst": [dict(item) for item in worst],
        "perSegment": [
            {"id": item.get("id"), "driftSeconds": item["driftSeconds"]}
            for item in drifts
            if item.get("driftSeconds") is not None
        ],
        "method": "first rising edge of frame energy (10 ms frames, 30 dB below the loud frames) "
        "near each segment's start, in the source speech and in the dubbed speech",
    }


# ------------------------------------------------------------------- the card


def scorecard(
    language: str, source_language: str | None, sections: Mapping[str, Mapping[str, Any]], **extra: Any
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "version": VERSION,
        "language": language,
        "sourceLanguage": source_language,
        **extra,
    }
    for name in ("intelligibility", "timing", "voice", "loudness", "sync"):
        card[name] = dict(sections.get(name) or {"error": "not measured"})
    card["units"] = dict(UNITS)
    card["summary"] = summary(card)
    return card


def _lookup(section: Mapping[str, Any], path: str) -> Any:
    value: Any = section
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def summary(card: Mapping[str, Any]) -> dict[str, Any]:
    """The compact figures (``status.outputs.languages[].quality``); a field that could not be measured is left out."""
    out: dict[str, Any] = {}
    for key, section, path in SUMMARY_FIELDS:
        value = _lookup(card.get(section) or {}, path)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value)):
            out[key] = value
    errors = sorted(
        name
        for name in ("intelligibility", "timing", "voice", "loudness", "sync")
        if (card.get(name) or {}).get("error")
    )
    if errors:
        out["unmeasured"] = errors
    return out


def summary_outputs(per_language: Mapping[str, Mapping[str, Any]], budget: int = 2500) -> dict[str, Any]:
    """The score stage's termination-message outputs: ``{lang: {"report": key, "quality": {...}}}``.

    Everything when it fits ``budget`` bytes of JSON; else the core figures per language;
    else the report keys only (the scorecards themselves hold everything).
    """

    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    full = {lang: dict(entry) for lang, entry in per_language.items()}
    if size(full) <= budget:
        return full
    core = {
        lang: {**{k: v for k, v in entry.items() if k != "quality"},
               "quality": {k: v for k, v in (entry.get("quality") or {}).items() if k in CORE_FIELDS}}
        for lang, entry in per_language.items()
    }  # fmt: skip
    if size(core) <= budget:
        return core
    return {lang: {k: v for k, v in entry.items() if k == "report"} for lang, entry in per_language.items()}


def table(card: Mapping[str, Any]) -> list[str]:
    """A few lines for ``dubbing run``'s report."""
    lang = card.get("language")
    rows: list[tuple[str, str]] = []
    it = card.get("intelligibility") or {}
    if it.get("error"):
        rows.append(("intelligibility", f"not measured: {it['error']}"))
    else:
        mix = it.get("mix") or {}
        mixed = f"; full mix WER {mix['wer']:.2f}" if isinstance(mix.get("wer"), (int, float)) else ""
        rows.append(
            (
                "intelligibility",
                f"WER {it['wer']:.2f}, CER {it['cer']:.2f} ({it['transcribed']}, {it['referenceWords']} words){mixed}",
            )
        )
    tm = card.get("timing") or {}
    if tm.get("error"):
        rows.append(("timing", f"not measured: {tm['error']}"))
    elif tm.get("segments"):
        misfits = ", ".join(f"#{m['id']} needs {m['neededStretch']:.2f}x" for m in tm.get("misfits", [])[:4])
        rows.append(("timing", f"{tm['inSlot']}/{tm['segments']} in their slot ({100 * (tm['fitShare'] or 0):.0f} %), "
                               f"overrun {tm['overrunSeconds'] or 0:.2f} s" + (f" ({misfits})" if misfits else "")))  # fmt: skip
    vo = card.get("voice") or {}
    if vo.get("error"):
        rows.append(("voice", f"not measured: {vo['error']}"))
    else:
        per = ", ".join(
            f"{s['speaker']} {s['sourceSimilarity']:.2f}"
            for s in vo.get("speakers", [])
            if s.get("sourceSimilarity") is not None
        )
        rows.append(("voice vs source", f"min {_fmt(vo.get('minSourceSimilarity'))} ({per or 'no speaker'})"))
        verdict = {True: "distinct", False: "NOT distinct", None: "n/a"}[vo.get("voicesDistinct")]
        rows.append(("voices apart", f"max cross-speaker {_fmt(vo.get('maxCrossSpeakerSimilarity'))}, "
                                     f"same-speaker {_fmt(vo.get('sameSpeakerSimilarity'))}: {verdict}"))  # fmt: skip
    lo = card.get("loudness") or {}
    if lo.get("error"):
        rows.append(("loudness", f"not measured: {lo['error']}"))
    else:
        rows.append(("loudness", f"{_fmt(lo.get('integratedLufs'), 1)} LUFS (target {_fmt(lo.get('targetLufs'), 1)}), "
                                 f"true peak {_fmt(lo.get('truePeakDbtp'), 1)} dBTP"))  # fmt: skip
    sy = card.get("sync") or {}
    if sy.get("error"):
        rows.append(("onset drift", f"not measured: {sy['error']}"))
    else:
        rows.append(("onset drift", f"median {sy['onsetDriftMedianSeconds']:+.2f} s, max |{sy['onsetDriftMaxAbsSeconds']:.2f}| s "
                                    f"over {sy['measured']} segments"))  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return [f"scorecard ({lang}):"] + [f"  {name.ljust(width)}  {text}" for name, text in rows]


def _fmt(value: Any, digits: int = 2) -> str:
    return "n/a" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"
