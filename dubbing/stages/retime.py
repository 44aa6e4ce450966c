"""Slow-video fit (``mix.fit: slowVideo``): where the picture slows down so a dubbed line fits.

After the tts stage's faster reading and the mix's stretch (up to ``maxStretch``), a clip
may still run past its window (``tooLong``).  With ``slowVideo`` the span from its
segment's start (the clip's, if that is later) to its window's end plays slower, video and
every audio track alike, by just the factor the clip needs (at most ``maxSlowdown``; the lead
before the segment counts as it is): the output timeline is then longer than the source's.  Spans are found one at a time, in order, the plan redone on the new timeline after
each (an overrunning line no longer pushes the ones after it).

A :class:`Retiming` maps source times to output times (:meth:`Retiming.to_output`) and back;
the mix places the clips and ducks the bed on the output timeline, the mux slows the video
and the original audio over the same spans and moves the subtitles with :meth:`to_output`.
The pure parts are here; the ffmpeg filter graphs too (:func:`video_graph`, :func:`audio_graph`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..segments import Transcript
from . import timefit

STRETCH = "stretch"
SLOW_VIDEO = "slowVideo"
FITS = (STRETCH, SLOW_VIDEO)
DEFAULT_MAX_SLOWDOWN = 1.5
#: Spans shorter than this (source seconds) are not worth cutting the video for.
MIN_SPAN_SECONDS = 0.05


@dataclass(frozen=True)
class Span:
    """Source seconds ``start``..``end`` play ``factor`` times as long."""

    start: float
    end: float
    factor: float

    @property
    def extra(self) -> float:
        return (self.end - self.start) * (self.factor - 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "factor": round(self.factor, 4),
            "extraSeconds": round(self.extra, 4),
        }


@dataclass(frozen=True)
class Retiming:
    spans: tuple[Span, ...] = ()
    source_duration: float = 0.0
    placements: tuple[timefit.Placement, ...] = field(default=())

    @property
    def output_duration(self) -> float:
        return self.source_duration + sum(span.extra for span in self.spans)

    def to_output(self, t: float) -> float:
        out = t
        for span in self.spans:
            if t >= span.end:
                out += span.extra
            elif t > span.start:
                out += (t - span.start) * (span.factor - 1.0)
        return out

    def to_source(self, t: float) -> float:
        """The inverse of :meth:`to_output`."""
        shift = 0.0
        for span in self.spans:
            start_out = span.start + shift
            end_out = start_out + (span.end - span.start) * span.factor
            if t < start_out:
                break
            if t < end_out:
                return span.start + (t - start_out) / span.factor
            shift += span.extra
        return t - shift

    def slowdown_at(self, start: float, end: float) -> float:
        """The largest slow-down over the output seconds ``start``..``end`` (1.0 = none)."""
        a, b = self.to_source(start), self.to_source(end)
        return max((s.factor for s in self.spans if s.start < b and s.end > a), default=1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spans": [span.as_dict() for span in self.spans],
            "sourceDurationSeconds": round(self.source_duration, 4),
            "outputDurationSeconds": round(self.output_duration, 4),
        }


def from_dict(data: Mapping[str, Any] | None) -> Retiming:
    """The retiming a mix recorded in its ``timefit.json`` (``retime``); none when absent."""
    if not data:
        return Retiming()
    spans = tuple(Span(float(s["start"]), float(s["end"]), float(s["factor"])) for s in data.get("spans") or [])
    return Retiming(spans, float(data.get("sourceDurationSeconds", 0.0)))


def moved(transcript: Transcript, retiming: Retiming) -> Transcript:
    """The transcript on the output timeline: every segment's and word's times through :meth:`Retiming.to_output`."""
    if not retiming.spans:
        return transcript
    out = retiming.to_output
    segments = tuple(
        replace(
            segment,
            start=out(segment.start),
            end=out(segment.end),
            words=tuple(replace(word, start=out(word.start), end=out(word.end)) for word in segment.words),
        )
        for segment in transcript.segments
    )
    duration = None if transcript.duration is None else out(float(transcript.duration))
    return replace(transcript, segments=segments, duration=duration)


def _ceil(value: float) -> float:
    return math.ceil(value * 10**4 - 1e-9) / 10**4


def plan(slots: Sequence[timefit.Slot], duration: float, max_stretch: float, max_slowdown: float) -> Retiming:
    """The spans to slow down and the placements on the output timeline (see the module)."""
    if max_slowdown < 1.0:
        raise ValueError("max_slowdown must be at least 1.0")
    spans: list[Span] = []
    tried: set[int] = set()
    while True:
        retiming = Retiming(tuple(spans), duration)
        mapped = [
            timefit.Slot(s.id, retiming.to_output(s.start), retiming.to_output(s.end), s.clip_seconds) for s in slots
        ]
        placements = timefit.plan(mapped, retiming.output_duration, max_stretch)
        late = next((p for p in placements if p.status == timefit.TOO_LONG and p.id not in tried), None)
        if late is None or max_slowdown <= 1.0:
            return Retiming(tuple(spans), duration, tuple(placements))
        tried.add(late.id)
        # From its segment's start (the lead before it stays as it is: slowing it would move the
        # segment's start later and the lead with it) or from the clip's, if that is later ...
        begin = max(late.start, late.segment_start)
        start = max(retiming.to_source(begin), spans[-1].end if spans else 0.0)
        end = retiming.to_source(late.window_end)
        if end - start < MIN_SPAN_SECONDS:
            continue
        # ... to its window's end, slowed so that the clip at the stretch bound fits: it needs
        # ``placed_seconds`` from its start, the lead gives ``begin - start`` of them.
        factor = min(max_slowdown, _ceil((late.placed_seconds - (begin - late.start)) / (end - start)))
        if factor > 1.0:
            spans = sorted([*spans, Span(start, end, factor)], key=lambda s: s.start)


def pieces(spans: Sequence[Span], duration: float) -> list[tuple[float, float, float]]:
    """The source timeline cut at the spans: (start, end, factor) in order, covering 0..duration."""
    out: list[tuple[float, float, float]] = []
    cursor = 0.0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start > cursor:
            out.append((cursor, span.start, 1.0))
        out.append((span.start, span.end, span.factor))
        cursor = span.end
    if duration > cursor:
        out.append((cursor, duration, 1.0))
    return out


def time_expression(spans: Sequence[Span], duration: float) -> str:
    """:meth:`Retiming.to_output` as an ffmpeg expression of ``T`` (the frame time in seconds)."""
    expression = ""
    closing = 0
    shift = 0.0
    for start, end, factor in pieces(spans, duration):
        out_start = start + shift
        term = f"T+{shift:.6f}" if factor == 1.0 else f"{out_start:.6f}+(T-{start:.6f})*{factor:.6f}"
        expression += f"if(lt(T,{end:.6f}),{term},"
        closing += 1
        shift += (end - start) * (factor - 1.0)
    return expression + f"T+{shift:.6f}" + ")" * closing


def video_graph(spans: Sequence[Span], duration: float, source: str = "0:v:0", label: str = "vout") -> str:
    """An ffmpeg filter graph: each frame's time moved by :func:`time_expression` (the spans last longer:
    the encoder repeats frames there)."""
    return f"[{source}]setpts='({time_expression(spans, duration)})/TB'[{label}]"


def audio_graph(spans: Sequence[Span], duration: float, source: str = "0:a:0", label: str = "aout") -> str:
    """An ffmpeg filter graph: the audio cut at the spans, each span slowed by its factor (pitch kept)."""
    cuts = pieces(spans, duration)
    parts = [f"[{source}]asplit={len(cuts)}" + "".join(f"[in{n}]" for n in range(len(cuts)))] if len(cuts) > 1 else []
    names = []
    for number, (start, end, factor) in enumerate(cuts):
        name = f"a{number}"
        feed = f"in{number}" if len(cuts) > 1 else source
        slow = f",{timefit.atempo_chain(1.0 / factor)}" if factor != 1.0 else ""
        parts.append(f"[{feed}]atrim=start={start:.6f}:end={end:.6f},asetpts=PTS-STARTPTS{slow}[{name}]")
        names.append(f"[{name}]")
    parts.append(f"{''.join(names)}concat=n={len(names)}:v=0:a=1[{label}]")
    return ";".join(parts)


def slow_audio(source: Path, retiming: Retiming, dest: Path) -> Path:
    """``source`` (a WAV on the source timeline) slowed over the spans into ``dest`` (float WAV, same rate)."""
    from .media import run_ffmpeg

    graph = audio_graph(retiming.spans, retiming.source_duration, "0:a:0", "aout")
    run_ffmpeg(
        ["-i", str(source), "-filter_complex", graph, "-map", "[aout]", "-c:a", "pcm_f32le", str(dest)],
        "slow the bed over the retimed spans",
    )
    return dest
