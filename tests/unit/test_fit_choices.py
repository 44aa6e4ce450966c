"""The time-fit's further choices, pure: a faster reading (ratefit), a slowed video (retime),
what each segment needed (fitreport), a voice's pitch register (speakerpitch) and Kokoro's casting."""

from __future__ import annotations

import numpy as np
import pytest

from dubbing.backends.base import check_rate
from dubbing.backends.tts_espeak import words_per_minute
from dubbing.backends.tts_kokoro import cast_voices
from dubbing.segments import Segment, Transcript, Word
from dubbing.stages import fitreport, ratefit, retime, speakerpitch, timefit


def slot(ident: int, start: float, end: float, clip: float) -> timefit.Slot:
    return timefit.Slot(ident, start, end, clip)


# --- ratefit ----------------------------------------------------------------------------------


def test_a_clip_that_fits_with_pause_or_lead_needs_no_faster_reading() -> None:
    slots = [slot(0, 1.0, 2.0, 1.0), slot(1, 3.0, 4.0, 1.4), slot(2, 6.0, 7.0, 1.2), slot(3, 7.2, 8.0, 0.5)]
    plan = timefit.plan(slots, 10.0, 1.0)
    assert [p.status for p in plan] == [timefit.FITS, timefit.USES_PAUSE, timefit.SHIFTED, timefit.FITS]
    assert [ratefit.needed_speedup(p) for p in plan] == [1.0, 1.0, 1.0, 1.0]


def test_the_need_is_measured_from_the_earliest_start() -> None:
    # window: lead 0.5 before 1.0 (the media starts at 0) .. next segment at 3.0 less the guard
    [p, _] = timefit.plan([slot(0, 1.0, 2.0, 3.0), slot(1, 3.0, 4.0, 0.5)], 10.0, 1.0)
    assert p.status == timefit.TOO_LONG
    assert ratefit.needed_speedup(p) == pytest.approx(3.0 / (2.95 - 0.5))


@pytest.mark.parametrize(
    "needed,bound,rate",
    [(1.0, 1.25, 1.0), (1.015, 1.25, 1.0), (1.1, 1.25, 1.1), (1.101, 1.25, 1.11), (1.6, 1.25, 1.25), (1.3, 1.0, 1.0)],
)
def test_choose_rate(needed: float, bound: float, rate: float) -> None:
    assert ratefit.choose_rate(needed, bound) == rate


def test_choose_rate_refuses_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1.0"):
        ratefit.choose_rate(1.2, 0.9)


def test_corrected_rate_aims_again_when_pauses_kept_the_clip_long() -> None:
    # read at 1.1, still 10 % too long: 1.21 next
    assert ratefit.corrected_rate(1.1, 2.2, 2.0, 1.25) == 1.21
    assert ratefit.corrected_rate(1.1, 2.3, 2.0, 1.25) == 1.25  # bounded
    assert ratefit.corrected_rate(1.1, 2.01, 2.0, 1.25) is None  # close enough
    assert ratefit.corrected_rate(1.25, 3.0, 2.0, 1.25) is None  # at the bound already


def test_first_to_speed_up_goes_in_order_and_skips_what_was_done() -> None:
    plan = timefit.plan([slot(0, 0.0, 1.0, 2.3), slot(1, 2.0, 3.0, 2.3), slot(2, 4.0, 5.0, 0.5)], 6.0, 100.0)
    first = ratefit.first_to_speed_up(plan, set(), 1.25)
    assert first == (0, 1.18)  # 2.3 s into 1.95 s
    second = ratefit.first_to_speed_up(plan, {0}, 1.25)
    assert second == (1, 1.18)  # from its own start (the first, squeezed, ends 0.05 s before it): 2.3 s into 1.95 s
    assert ratefit.first_to_speed_up(plan, {0, 1}, 1.25) is None


def test_check_rate() -> None:
    assert check_rate(1.2, "speed", "kokoro") == 1.2
    assert check_rate(1.0, None, "plain") == 1.0
    with pytest.raises(ValueError, match="no speaking-rate control"):
        check_rate(1.1, None, "plain")
    with pytest.raises(ValueError, match="positive"):
        check_rate(0.0, "speed", "kokoro")


def test_espeak_words_per_minute_scale_within_its_bounds() -> None:
    assert words_per_minute(160, 1.0) == 160
    assert words_per_minute(160, 1.25) == 200
    assert words_per_minute(400, 1.5) == 450


# --- retime -----------------------------------------------------------------------------------


def test_without_slowdown_retime_plans_like_the_time_fit() -> None:
    slots = [slot(0, 1.0, 2.0, 4.0), slot(1, 3.0, 4.0, 0.5)]
    retiming = retime.plan(slots, 6.0, 1.25, 1.0)
    assert retiming.spans == () and list(retiming.placements) == timefit.plan(slots, 6.0, 1.25)
    assert retiming.output_duration == 6.0


def test_a_too_long_clip_gets_a_slowed_span_and_then_fits() -> None:
    slots = [slot(0, 1.0, 2.0, 1.0), slot(1, 2.5, 3.0, 2.5), slot(2, 4.0, 5.0, 0.8)]
    assert timefit.plan(slots, 6.0, 1.25)[1].status == timefit.TOO_LONG
    retiming = retime.plan(slots, 6.0, 1.25, 1.5)
    [span] = retiming.spans
    # from the segment's start to its window's end (the next start less the guard); the clip starts 0.3 s
    # earlier (0.2 s after the first clip): 2.5 s at 1.25 is 2.0 s, 0.3 s of them before the span
    assert span.start == pytest.approx(2.5) and span.end == pytest.approx(3.95)
    assert span.factor == pytest.approx((2.0 - 0.3) / 1.45, abs=1e-4)
    statuses = {p.id: p.status for p in retiming.placements}
    assert statuses[1] == timefit.STRETCHED and timefit.TOO_LONG not in statuses.values()
    assert retiming.output_duration == pytest.approx(6.0 + span.extra)
    # the line after it moves by the added seconds
    third = next(p for p in retiming.placements if p.id == 2)
    assert third.segment_start == pytest.approx(4.0 + span.extra)


def test_the_slowdown_is_bounded_and_what_is_left_is_reported() -> None:
    retiming = retime.plan([slot(0, 1.0, 2.0, 8.0), slot(1, 3.0, 4.0, 0.5)], 6.0, 1.25, 1.5)
    [span] = retiming.spans
    assert span.factor == 1.5
    first = next(p for p in retiming.placements if p.id == 0)
    assert first.status == timefit.TOO_LONG and first.overflow > 0


def test_an_overrun_no_longer_pushes_the_next_line() -> None:
    # the first line overruns into the second's window; slowed, it does not, and the second fits
    slots = [slot(0, 0.0, 1.0, 2.6), slot(1, 1.2, 2.0, 0.7), slot(2, 5.0, 6.0, 0.5)]
    retiming = retime.plan(slots, 8.0, 1.25, 2.0)
    assert len(retiming.spans) == 1
    before = next(p for p in timefit.plan(slots, 8.0, 1.25) if p.id == 1)
    assert before.shift > 0.5  # pushed by the overrun
    second = next(p for p in retiming.placements if p.id == 1)
    assert second.status in (timefit.FITS, timefit.USES_PAUSE) and second.shift == pytest.approx(0.0, abs=1e-3)


def test_with_room_to_slow_down_every_line_fits() -> None:
    """Random dialogues (seeded): whatever runs over, a large enough bound leaves no line too long
    (segments that overlap are another matter: a line may run to its own segment's end over the next),
    and the output is longer by exactly the spans' extra seconds."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        starts = np.cumsum(rng.uniform(0.4, 3.0, 12))
        gaps = np.diff(starts, append=starts[-1] + 3.0)
        slots = [  # segments that do not overlap (ASR's), lines of any length
            slot(i, float(a), float(a + rng.uniform(0.2, 1.0) * gap), float(rng.uniform(0.3, 5.0)))
            for i, (a, gap) in enumerate(zip(starts, gaps, strict=True))
        ]
        duration = float(starts[-1] + 3.0)
        retiming = retime.plan(slots, duration, 1.25, 100.0)
        assert [p for p in retiming.placements if p.status == timefit.TOO_LONG] == []
        assert retiming.output_duration == pytest.approx(duration + sum(s.extra for s in retiming.spans))
        assert all(a.end <= b.start for a, b in zip(retiming.spans, retiming.spans[1:], strict=False))


def test_time_maps_are_inverse_and_piecewise_linear() -> None:
    retiming = retime.Retiming((retime.Span(1.0, 2.0, 1.5), retime.Span(4.0, 5.0, 2.0)), 8.0)
    assert retiming.output_duration == pytest.approx(9.5)
    assert [retiming.to_output(t) for t in (0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 5.0, 8.0)] == pytest.approx(
        [0.5, 1.0, 1.75, 2.5, 3.5, 5.5, 6.5, 9.5]
    )
    for t in np.linspace(0, 8, 33):
        assert retiming.to_source(retiming.to_output(float(t))) == pytest.approx(float(t))
    assert retiming.slowdown_at(1.2, 1.4) == 1.5 and retiming.slowdown_at(2.6, 3.0) == 1.0
    again = retime.from_dict(retiming.as_dict())
    assert again.spans == retiming.spans and again.source_duration == 8.0


def test_filter_graphs() -> None:
    spans = (retime.Span(1.0, 2.0, 1.5),)
    assert retime.pieces(spans, 3.0) == [(0.0, 1.0, 1.0), (1.0, 2.0, 1.5), (2.0, 3.0, 1.0)]
    expression = retime.time_expression(spans, 3.0)
    assert expression == (
        "if(lt(T,1.000000),T+0.000000,if(lt(T,2.000000),1.000000+(T-1.000000)*1.500000,"
        "if(lt(T,3.000000),T+0.500000,T+0.500000)))"
    )
    graph = retime.audio_graph(spans, 3.0)
    assert graph.startswith("[0:a:0]asplit=3[in0][in1][in2];")
    assert "atempo=0.666667" in graph and graph.endswith("[a0][a1][a2]concat=n=3:v=0:a=1[aout]")
    assert retime.video_graph(spans, 3.0) == f"[0:v:0]setpts='({expression})/TB'[vout]"


def test_moved_transcript_follows_the_output_timeline() -> None:
    transcript = Transcript(
        "en", (Segment(0, 0.5, 1.5, "a", words=(Word(0.5, 1.5, "a"),)), Segment(1, 3.0, 4.0, "b")), 5.0
    )
    retiming = retime.Retiming((retime.Span(1.0, 2.0, 2.0),), 5.0)
    moved = retime.moved(transcript, retiming)
    assert [(s.start, s.end) for s in moved.segments] == [(0.5, 2.0), (4.0, 5.0)]
    assert moved.segments[0].words[0].end == 2.0 and moved.duration == 6.0
    assert retime.moved(transcript, retime.Retiming()) is transcript


# --- fitreport --------------------------------------------------------------------------------


def test_segment_report_says_what_each_line_needed() -> None:
    slots = [slot(0, 1.0, 2.0, 1.0), slot(1, 2.5, 3.0, 2.5), slot(2, 4.0, 5.0, 8.0)]
    retiming = retime.plan(slots, 8.0, 1.25, 1.5)
    clips = {0: {"rate": 1.0}, 1: {"rate": 1.2, "normalSeconds": 3.0}, 2: {"rate": 1.25}}
    reports = [fitreport.segment_report(p, clips[p.id], retiming) for p in retiming.placements]
    by_id = {r["id"]: r for r in reports}
    assert by_id[0]["rate"] == 1.0 and by_id[0]["videoSlowdown"] == 1.0 and by_id[0]["residualOverrunSeconds"] == 0
    assert by_id[1]["rate"] == 1.2 and by_id[1]["normalSeconds"] == 3.0 and by_id[1]["videoSlowdown"] > 1.0
    assert by_id[2]["videoSlowdown"] == 1.5 and by_id[2]["residualOverrunSeconds"] > 0
    assert by_id[2]["stretch"] == 1.25
    summary = fitreport.summary(reports, retiming)
    assert summary["readFaster"] == 2 and summary["maxRate"] == 1.25 and summary["videoSlowed"] == 2
    assert summary["addedSeconds"] == pytest.approx(retiming.output_duration - 8.0, abs=1e-4)


# --- speakerpitch -----------------------------------------------------------------------------


def voiced(f0: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * speakerpitch.RATE)) / speakerpitch.RATE
    return sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8)).astype(np.float32)


@pytest.mark.parametrize(
    "f0,register", [(95.0, "low"), (130.0, "low"), (152.0, None), (175.0, "high"), (210.0, "high")]
)
def test_pitch_register_of_a_voiced_tone(f0: float, register: str | None) -> None:
    pitch = speakerpitch.measure(voiced(f0))
    assert pitch.median_hz == pytest.approx(f0, rel=0.03)
    assert pitch.register == register


def test_noise_silence_and_too_little_voice_tell_nothing() -> None:
    noise = np.random.default_rng(0).normal(0, 0.3, 3 * speakerpitch.RATE).astype(np.float32)
    assert speakerpitch.measure(noise).register is None
    assert speakerpitch.measure(np.zeros(speakerpitch.RATE, dtype=np.float32)).register is None
    short = speakerpitch.measure(voiced(120.0, 0.5))
    assert short.median_hz is not None and short.register is None
    assert speakerpitch.measure(np.zeros(10, dtype=np.float32)).median_hz is None


# --- casting ----------------------------------------------------------------------------------

ORDER = ("pf_dora", "pm_alex", "pm_santa")
REGISTERS = {"high": ("pf_dora",), "low": ("pm_alex", "pm_santa")}


def test_without_pitches_voices_go_by_order() -> None:
    assert cast_voices(["S0", "S1", "S2", "S3"], ORDER) == {
        "S0": "pf_dora",
        "S1": "pm_alex",
        "S2": "pm_santa",
        "S3": "pf_dora",
    }


def test_a_low_voice_first_gets_a_male_voice() -> None:
    cast = cast_voices(["S0", "S1"], ORDER, {"S0": "low", "S1": "high"}, REGISTERS)
    assert cast == {"S0": "pm_alex", "S1": "pf_dora"}


def test_no_voice_twice_while_one_is_left() -> None:
    # two high voices, one female voice: the second gets an unused voice rather than a repeat
    cast = cast_voices(["S0", "S1", "S2"], ORDER, {"S0": "high", "S1": "high", "S2": "low"}, REGISTERS)
    assert cast["S0"] == "pf_dora" and len(set(cast.values())) == 3
    # an unknown register takes the next unused voice in order
    assert cast_voices(["S0", "S1"], ORDER, {"S0": "high"}, REGISTERS) == {"S0": "pf_dora", "S1": "pm_alex"}
    # more speakers than voices: voices repeat, the register still preferred
    cast = cast_voices(["A", "B", "C", "D"], ORDER, {"D": "high"}, REGISTERS)
    assert cast["D"] == "pf_dora"


# --- the tts stage's faster readings, with a synthesiser whose clips shorten less than the rate ----


def test_read_faster_aims_again_and_updates_the_clips() -> None:
    """Clips in placement order, each read at the rate it needs, then aimed again from what it measured."""
    from dubbing.stages.tts import read_faster

    normal = {0: 1.5, 1: 3.5, 2: 4.0, 3: 0.5}
    clips = [
        {"id": 0, "start": 0.0, "end": 2.0, "seconds": normal[0], "rate": 1.0},  # fits
        {"id": 1, "start": 2.5, "end": 4.5, "seconds": normal[1], "rate": 1.0},  # 3.5 s into 2.95 s: 1.19
        {"id": 2, "start": 5.0, "end": 7.0, "seconds": normal[2], "rate": 1.0},  # 4.0 s into 2.95 s: past 1.25
        {"id": 3, "start": 8.0, "end": 9.0, "seconds": normal[3], "rate": 1.0},
    ]
    calls: list[tuple[int, float]] = []

    def speak(ident: int, rate: float) -> float:
        calls.append((ident, rate))
        return normal[ident] / rate**0.5  # half the effect a rate should have

    assert read_faster(clips, 10.0, 1.25, speak) == 2
    by_id = {c["id"]: c for c in clips}
    assert by_id[0]["rate"] == 1.0 and "normalSeconds" not in by_id[0]
    # #1 at 1.19 gives 3.21 s, not 2.95: aimed again, at the bound; #2 at the bound at once
    assert calls == [(1, 1.19), (1, 1.25), (2, 1.25)]
    assert by_id[1]["rate"] == 1.25 and by_id[1]["normalSeconds"] == 3.5
    assert by_id[1]["seconds"] == pytest.approx(3.5 / 1.25**0.5, abs=1e-4)
    assert by_id[2]["rate"] == 1.25 and by_id[2]["seconds"] == pytest.approx(4.0 / 1.25**0.5, abs=1e-4)
    assert read_faster(clips, 10.0, 1.0, speak) == 0  # maxRate 1.0: never faster


def test_read_faster_stops_after_the_corrections_allowed() -> None:
    from dubbing.stages.tts import read_faster

    clips = [
        {"id": 0, "start": 0.0, "end": 2.0, "seconds": 3.0, "rate": 1.0},
        {"id": 1, "start": 2.5, "end": 3.0, "seconds": 0.3, "rate": 1.0},
    ]
    rates: list[float] = []

    def stubborn(ident: int, rate: float) -> float:  # a reading that hardly shortens
        rates.append(rate)
        return 3.0 / rate**0.1

    assert read_faster(clips, 10.0, 1.5, stubborn) == 1
    assert len(rates) == 1 + ratefit.MAX_CORRECTIONS and rates == sorted(rates) and rates[-1] <= 1.5
