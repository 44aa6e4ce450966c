"""Unit tests of the pipeline's pure decision functions."""

from __future__ import annotations

import json

import pytest

from dubbing.api.v1alpha1 import DubbingJobSpec
from dubbing.segments import Segment
from dubbing.stages import cachekey, layout, termination, timefit
from dubbing.stages.langcodes import iso639_2
from dubbing.stages.plan import apply_overrides, plan_job, target_languages
from dubbing.stages.progress import Progress, format_line, parse_line
from dubbing.stages.speakerrefs import choose_reference_spans
from dubbing.stages.subtitles import cues_from_segments, srt_time, to_srt, to_vtt, vtt_time, wrap


# ------------------------------------------------------------------ cache keys
class TestCacheKey:
    base = dict(
        stage="asr",
        version=1,
        backend_identity={"backend": "faster-whisper", "model": "base"},
        options={"model": "base", "beamSize": 5},
        inputs={"speech.wav": "a" * 64, "turns.json": "b" * 64},
    )

    def test_stable_and_short(self):
        key = cachekey.cache_key(**self.base)
        assert key == cachekey.cache_key(**self.base)
        assert len(key) == cachekey.KEY_LENGTH and all(c in "0123456789abcdef" for c in key)

    def test_order_and_number_forms_do_not_matter(self):
        other = dict(
            self.base,
            options={"beamSize": 5.0, "model": "base"},
            inputs=dict(reversed(list(self.base["inputs"].items()))),
        )
        assert cachekey.cache_key(**other) == cachekey.cache_key(**self.base)

    def test_scheduling_fields_do_not_matter(self):
        other = dict(
            self.base,
            options={**self.base["options"], "gpus": 2, "timeoutSeconds": 60, "maxAttempts": 3, "backend": "auto"},
        )
        assert cachekey.cache_key(**other) == cachekey.cache_key(**self.base)

    @pytest.mark.parametrize(
        "change",
        [
            {"stage": "diarize"},
            {"version": 2},
            {"backend_identity": {"backend": "faster-whisper", "model": "small"}},
            {"options": {"model": "base", "beamSize": 1}},
            {"inputs": {"speech.wav": "c" * 64, "turns.json": "b" * 64}},
            {"languages": {"target": "pt-BR"}},
        ],
    )
    def test_anything_that_changes_output_changes_key(self, change):
        assert cachekey.cache_key(**{**self.base, **change}) != cachekey.cache_key(**self.base)

    def test_material_explains_key(self):
        material = cachekey.key_material(**self.base)
        assert material["inputs"] == self.base["inputs"] and material["stage"] == "asr"
        assert json.loads(cachekey.canonical_json(material)) == json.loads(json.dumps(material))


def test_layout():
    assert layout.manifest_key("tts", "k1") == "cache/tts/k1/manifest.json"
    assert layout.cache_object("tts", "k1", "clips/0001.wav") == "cache/tts/k1/clips/0001.wav"
    assert layout.job_index_key("alice", "demo", "mix") == "jobs/alice/demo/mix.json"
    assert layout.job_outputs_prefix("alice", "demo", "pt-BR") == "jobs/alice/demo/outputs/pt-BR"
    assert layout.job_outputs_prefix("alice", "demo", "pt-BR", override="custom/place/") == "custom/place/pt-BR"
    assert layout.job_index_key("", "demo", "mix") == "jobs/default/demo/mix.json"


# -------------------------------------------------------------------- time-fit
def slot(i, start, end, clip):
    return timefit.Slot(i, start, end, clip)


class TestTimeFit:
    def test_fits_inside_segment(self):
        [p] = timefit.plan([slot(0, 1.0, 4.0, 2.5)], 10.0, 1.25)
        assert p.status == timefit.FITS and p.tempo == 1.0 and p.end == pytest.approx(3.5)

    def test_uses_the_pause_before_stretching(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 2.8), slot(1, 3.0, 5.0, 1.0)], 10.0, 1.25)
        assert plan[0].status == timefit.USES_PAUSE and plan[0].tempo == 1.0
        assert plan[0].end <= 3.0 - 0.05 + 1e-9

    def test_stretches_just_enough_within_bound(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 3.3), slot(1, 3.0, 5.0, 1.0)], 10.0, 1.25)
        p = plan[0]
        assert p.status == timefit.STRETCHED
        assert 1.0 < p.tempo <= 1.25
        assert p.end <= p.window_end + 1e-6
        assert p.tempo == pytest.approx(3.3 / 2.95, abs=1e-3)

    def test_never_beyond_max_stretch_and_reports(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 6.0), slot(1, 3.0, 5.0, 1.0)], 10.0, 1.25)
        p = plan[0]
        assert p.status == timefit.TOO_LONG and p.tempo == 1.25
        assert p.overflow == pytest.approx(6.0 / 1.25 - 2.95)
        summary = timefit.summary(plan)
        assert summary["tooLong"] == 1 and summary["notFitting"][0]["id"] == 0 and summary["maxTempo"] == 1.25

    def test_max_stretch_one_means_never(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 3.3), slot(1, 3.0, 5.0, 1.0)], 10.0, 1.0)
        assert plan[0].tempo == 1.0 and plan[0].status == timefit.TOO_LONG

    def test_last_segment_bounded_by_media_end(self):
        [p] = timefit.plan([slot(0, 8.0, 9.0, 2.4)], 10.0, 1.25, max_lead=0.0)
        assert p.status == timefit.STRETCHED and p.end <= 10.0 + 1e-6

    def test_unsorted_input_and_overlaps(self):
        plan = timefit.plan([slot(1, 5.0, 6.0, 0.5), slot(0, 1.0, 5.5, 1.0)], 10.0, 1.25)
        assert [p.id for p in plan] == [0, 1]
        assert all(p.status == timefit.FITS for p in plan)

    def test_bad_bound(self):
        with pytest.raises(ValueError):
            timefit.plan([], 1.0, 0.9)

    def test_uses_free_time_before_when_the_pause_after_is_not_enough(self):
        # the previous clip ends at 1.0; the segment at 3.0 has 2.45 s to the next one, its clip 2.7 s
        plan = timefit.plan(
            [slot(0, 0.0, 2.0, 1.0), slot(1, 3.0, 5.0, 2.7), slot(2, 5.5, 7.0, 1.0)], 10.0, 1.25, max_lead=0.5, gap=0.2
        )
        p = plan[1]
        assert p.status == timefit.SHIFTED and p.tempo == 1.0
        assert p.end == pytest.approx(5.45)  # right up to the next segment less the guard, never past it
        assert p.shift == pytest.approx(-0.25)  # only as early as it needs
        assert p.needed_tempo == pytest.approx(2.7 / 2.45, abs=1e-3) and p.max_tempo == 1.25

    def test_lead_is_bounded_then_stretch_from_the_earliest_start(self):
        plan = timefit.plan([slot(0, 3.0, 5.0, 3.2), slot(1, 5.5, 7.0, 1.0)], 10.0, 1.25, max_lead=0.5)
        p = plan[0]
        assert p.status == timefit.STRETCHED and p.shift == pytest.approx(-0.5)
        assert p.tempo == pytest.approx(3.2 / 2.95, abs=1e-3) and p.end <= 5.45 + 1e-6

    def test_shift_keeps_a_gap_after_the_previous_clip(self):
        # the previous clip runs to 2.9: no earlier start than 2.9 + gap, so it keeps its own and is stretched
        plan = timefit.plan(
            [slot(0, 0.0, 2.0, 2.9), slot(1, 3.0, 5.0, 2.6), slot(2, 5.5, 7.0, 1.0)], 10.0, 1.25, max_lead=0.5, gap=0.2
        )
        p = plan[1]
        assert p.start == pytest.approx(3.0) and p.window_start == pytest.approx(3.0) and p.shift == 0.0
        assert p.status == timefit.STRETCHED and p.tempo == pytest.approx(2.6 / 2.45, abs=1e-3)
        # with the previous clip ending at 2.6, it may start at 2.8
        plan = timefit.plan(
            [slot(0, 0.0, 2.0, 2.6), slot(1, 3.0, 5.0, 2.6), slot(2, 5.5, 7.0, 1.0)], 10.0, 1.25, max_lead=0.5, gap=0.2
        )
        assert (
            plan[1].window_start == pytest.approx(2.8)
            and plan[1].status == timefit.SHIFTED
            and plan[1].start >= 2.8 - 1e-9
        )

    def test_no_lead_and_no_stretch_when_the_pause_after_is_enough(self):
        plan = timefit.plan([slot(0, 0.0, 1.0, 0.5), slot(1, 3.0, 4.0, 2.0), slot(2, 6.0, 7.0, 0.5)], 10.0, 1.25)
        assert [p.status for p in plan] == [timefit.FITS, timefit.USES_PAUSE, timefit.FITS]
        assert all(p.shift == 0.0 and p.tempo == 1.0 and p.needed_tempo == 1.0 for p in plan)

    def test_too_long_pushes_the_next_clip_later_never_over_it(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 6.0), slot(1, 3.0, 5.0, 1.0), slot(2, 6.0, 7.0, 1.0)], 10.0, 1.25)
        first, second, third = plan
        assert first.status == timefit.TOO_LONG and first.tempo == 1.25
        assert first.overflow == pytest.approx(4.8 - 2.95)
        assert second.start == pytest.approx(first.end + timefit.GUARD_SECONDS) and second.shift > 0
        assert second.end <= second.window_end + 1e-9 and third.start >= second.end
        summary = timefit.summary(plan)
        assert summary["inSlotShare"] == pytest.approx(2 / 3, abs=1e-4) and summary["maxDelaySeconds"] == pytest.approx(
            second.shift, abs=1e-3
        )

    def test_report_fields(self):
        plan = timefit.plan([slot(0, 0.0, 2.0, 1.0), slot(1, 3.0, 5.0, 2.7), slot(2, 5.5, 7.0, 6.0)], 9.0, 1.2)
        row = plan[1].as_dict()
        for field in ("id", "start", "end", "segment_start", "segment_end", "window_start", "window_end", "clip_seconds",
                      "placed_seconds", "needed_tempo", "max_tempo", "tempo", "shift", "overflow", "status"):  # fmt: skip
            assert field in row, field
        assert row["shift"] == pytest.approx(-0.25) and row["max_tempo"] == 1.2
        summary = timefit.summary(plan)
        assert summary["shifted"] == 1 and summary["tooLong"] == 1 and summary["maxLeadSeconds"] == pytest.approx(0.25)
        assert summary["maxNeededTempo"] == pytest.approx(6.0 / 3.5, abs=1e-3) and summary["maxTempo"] == 1.2
        # no lead for the last one: the clip before it ends at 5.45, less than ``gap`` before its segment
        assert summary["notFitting"] == [
            {"id": 2, "start": 5.5, "overflowSeconds": pytest.approx(6.0 / 1.2 - 3.5, abs=1e-3)}
        ]

    @pytest.mark.parametrize("seed", range(40))
    def test_invariants_on_random_plans(self, seed):
        import random

        rng = random.Random(seed)
        cursor, slots = 0.0, []
        for i in range(rng.randint(1, 12)):
            cursor += rng.uniform(0.0, 1.5)
            length = rng.uniform(0.3, 4.0)
            slots.append(slot(i, cursor, cursor + length, length * rng.uniform(0.5, 1.8)))
            cursor += length * rng.uniform(0.6, 1.1)  # sometimes overlapping segments
        media = cursor + rng.uniform(0.0, 2.0)
        max_stretch, lead, guard = rng.choice([1.0, 1.1, 1.25, 1.5]), rng.choice([0.0, 0.3, 0.5]), 0.05
        plan = timefit.plan(slots, media, max_stretch, guard=guard, max_lead=lead)
        assert sorted(p.id for p in plan) == sorted(s.id for s in slots)
        by_id = {s.id: s for s in slots}
        starts = sorted({s.start for s in slots})
        for before, p in zip([None] + plan[:-1], plan, strict=False):
            s = by_id[p.id]
            assert 1.0 <= p.tempo <= max_stretch + 1e-9  # never past the bound
            assert p.placed_seconds == pytest.approx(s.clip_seconds / p.tempo)
            assert p.start >= min(s.start, media) - lead - 1e-9 and p.start >= 0.0
            assert p.needed_tempo >= 1.0 and (p.tempo == 1.0 or p.tempo <= p.needed_tempo + 1e-3)
            if p.status != timefit.TOO_LONG:
                assert p.overflow == 0.0 and p.end <= p.window_end + 1e-6
                following = [t for t in starts if t > s.start]
                if following and following[0] - guard >= s.end:  # never into the next segment
                    assert p.end <= following[0] - guard + 1e-6
            else:
                assert p.tempo == max_stretch and p.overflow > 0
                assert p.end - p.overflow == pytest.approx(p.window_end)
            if before is not None:
                assert p.start >= before.end - 1e-9  # two dubbed lines never play at once

    def test_atempo_chain(self):
        assert timefit.atempo_chain(1.2) == "atempo=1.200000"
        assert timefit.atempo_chain(3.0).count("atempo=") == 2

    def test_duck_envelope(self):
        env = timefit.duck_envelope([(1.0, 2.0)], 3.0, 100, -12.0, ramp=0.1)
        assert env.shape == (300,)
        assert env[0] == pytest.approx(1.0)
        assert env[150] == pytest.approx(10 ** (-12 / 20), rel=1e-3)
        assert env[299] == pytest.approx(1.0)
        assert env.min() >= 10 ** (-12 / 20) - 1e-6


# ---------------------------------------------------------------- mix: the bed
class TestBed:
    def test_auto_suppresses_only_without_separation(self):
        from dubbing.stages.mix import resolve_background

        assert resolve_background("auto", "none") == "suppress"
        assert resolve_background("auto", None) == "suppress"
        assert resolve_background("auto", "demucs") == "duck"
        for explicit in ("duck", "suppress", "replace", "keep"):  # what the user asked for stays
            assert (
                resolve_background(explicit, "none") == explicit and resolve_background(explicit, "demucs") == explicit
            )

    def test_source_speech_regions_pad_join_and_words(self):
        from dubbing.stages.mix import source_speech_regions

        segments = [
            {
                "start": 1.0,
                "end": 2.0,
                "words": [{"start": 0.9, "end": 1.5}, {"start": 1.6, "end": 2.2}],
            },  # words run past the segment
            {"start": 2.4, "end": 3.0, "words": []},  # 0.2 s after the first (padded): joined
            {"start": 5.0, "end": 6.0},
            {"start": 9.8, "end": 11.0},  # clipped to the media
        ]
        regions = source_speech_regions(segments, 10.0, pad_before=0.1, pad_after=0.1, join=0.3)
        assert regions == [
            (pytest.approx(0.8), pytest.approx(3.1)),
            (pytest.approx(4.9), pytest.approx(6.1)),
            (pytest.approx(9.7), pytest.approx(10.0)),
        ]
        # the default pads more after than before (Whisper's ends run early)
        [(start, end)] = source_speech_regions([{"start": 5.0, "end": 6.0}], 10.0)
        assert start == pytest.approx(4.9) and end == pytest.approx(6.25)
        assert source_speech_regions([], 10.0) == []

    def test_suppress_envelope_is_low_in_speech_and_unity_between(self):
        env = timefit.duck_envelope([(1.0, 2.0)], 4.0, 1000, -40.0, ramp=0.08)
        assert env[1500] == pytest.approx(0.01, rel=1e-3)  # -40 dB inside
        assert env[0] == pytest.approx(1.0) and env[3000] == pytest.approx(1.0)  # normal level between
        # fully low from half a fade before the region to half a fade after; the fades end 1.5 fades out
        assert env[960] == pytest.approx(0.01, rel=1e-2) and env[2040] == pytest.approx(0.01, rel=1e-2)
        assert env[879] == pytest.approx(1.0) and env[2121] == pytest.approx(1.0)


# ------------------------------------------------------------------- subtitles
class TestSubtitles:
    segments = [
        Segment(0, 0.5, 2.0, "Hello there.", translation="Olá."),
        Segment(
            1, 1.9, 4.25, "A second line that is long enough to need wrapping onto two lines.", translation="Segunda."
        ),
        Segment(2, 5.0, 5.1, "", translation=""),
    ]

    def test_times(self):
        assert srt_time(3723.456) == "01:02:03,456"
        assert vtt_time(0.0005) == "00:00:00.001" or vtt_time(0.0005) == "00:00:00.000"
        assert vtt_time(61.5) == "00:01:01.500"

    def test_srt(self):
        cues = cues_from_segments(self.segments, use_translation=False)
        assert len(cues) == 2  # empty text dropped
        assert cues[0].end <= cues[1].start  # no overlap
        text = to_srt(cues)
        assert text.startswith("1\n00:00:00,500 --> 00:00:01,900\nHello there.\n")
        assert "\n2\n00:00:01,900 --> 00:00:04,250\n" in text
        assert all(len(line) <= 42 for line in to_srt(cues).splitlines())

    def test_vtt_translation(self):
        text = to_vtt(cues_from_segments(self.segments, use_translation=True))
        assert text.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.900\nOlá.\n")
        assert "Segunda." in text

    def test_wrap_two_lines(self):
        lines = wrap("word " * 30).splitlines()
        assert len(lines) == 2


# ---------------------------------------------------------------------- plan
def test_plan_job_and_overrides():
    stages = apply_overrides(
        {}, ["tts=espeak", "separate=none"], ["mix.maxStretch=1.3", "mux.container=mkv", "asr.vad=false"]
    )
    spec = DubbingJobSpec.model_validate(
        {"input": {"url": "https://x/y.mp4"}, "targetLanguages": ["pt-BR", "en", "pt-BR"], "stages": stages}
    )
    plans = {p.stage: p for p in plan_job(spec)}
    assert target_languages(spec) == ("pt-BR", "en")
    assert plans["tts"].backend == "espeak" and plans["tts"].languages == ("pt-BR", "en")
    assert plans["asr"].languages == () and plans["asr"].options["vad"] is False
    assert plans["mix"].options["maxStretch"] == 1.3 and plans["mux"].options["container"] == "mkv"
    assert plans["diarize"].backend == "auto"
    # the scorecard is one more per-language stage, last, with its own options
    assert (
        list(plans)[-2:] == ["mux", "score"]
        and plans["score"].languages == ("pt-BR", "en")
        and plans["score"].per_language
    )
    scored = apply_overrides({}, ["score=scorecard"], ["score.asrModel=small", "score.transcribeMix=true"])
    assert scored["score"] == {"backend": "scorecard", "asrModel": "small", "transcribeMix": True}


@pytest.mark.parametrize(
    "backends,options", [(["karaoke=x"], []), (["tts=nope"], []), ([], ["mix"]), ([], ["bogus.key=1"]), (["tts"], [])]
)
def test_bad_overrides(backends, options):
    with pytest.raises(ValueError):
        apply_overrides({}, backends, options)


def test_iso639_2():
    assert iso639_2("pt-BR") == "por" and iso639_2("en") == "eng" and iso639_2("es-419") == "spa"
    assert iso639_2("de") == "ger" and iso639_2("fil") == "fil" and iso639_2("xx") == "und" and iso639_2(None) == "und"


# ---------------------------------------------------------------- termination
def test_termination_summary_fits_and_is_one_line():
    data = termination.summary(
        "asr",
        False,
        reason="InvalidInput",
        message="bad\nthing " + "x" * 10000,
        outputs={f"o{i}": "k" * 100 for i in range(100)},
    )
    text = termination.encode(data)
    assert "\n" not in text and len(text.encode()) <= 4096
    parsed = json.loads(text)
    assert parsed["stage"] == "asr" and parsed["ok"] is False and parsed["reason"] == "InvalidInput"
    assert parsed["message"].startswith("bad thing")


def test_termination_small_summary_untouched():
    data = termination.summary(
        "mux",
        True,
        cache_hit=True,
        backend="ffmpeg",
        duration_seconds=1.23456,
        outputs={"pt-BR": "jobs/a/b/outputs/pt-BR/dubbed.mp4"},
    )
    parsed = json.loads(termination.encode(data))
    assert parsed == {**data, "durationSeconds": 1.235}
    assert set(parsed) == {
        "stage",
        "ok",
        "cacheHit",
        "backend",
        "model",
        "durationSeconds",
        "outputs",
        "reason",
        "message",
    }


# ------------------------------------------------------------------- progress
def test_progress_lines():
    assert format_line("asr", 42.0, "segment 12/30") == "[asr]  42.0% segment 12/30"
    assert format_line("mux", 100, "done") == "[mux] 100.0% done"
    assert format_line("tts", -3, "x\ny") == "[tts]   0.0% x y"
    assert parse_line("[asr]  42.0% segment 12/30") == ("asr", 42.0, "segment 12/30")
    assert parse_line("random text") is None


def test_progress_parts_are_monotonic():
    lines = []
    progress = Progress("tts", lambda s, p, m: lines.append(format_line(s, p, m)))
    first = progress.part(0, 50, prefix="pt-BR: ")
    first.update(50, "half")
    first.update(100, "done")
    second = progress.part(50, 100, prefix="en: ")
    second.update(0, "start")
    second.update(100, "done")
    percents = [parse_line(line)[1] for line in lines]
    assert percents == [25.0, 50.0, 50.0, 100.0]
    assert lines[0] == "[tts]  25.0% pt-BR: half"


# ---------------------------------------------------------------- speaker refs
def test_reference_spans():
    segments = [
        Segment(0, 0, 2, "a", "S0"),
        Segment(1, 3, 12, "b", "S0"),
        Segment(2, 13, 14, "c", "S1"),
        Segment(3, 15, 25, "d", "S0"),
        Segment(4, 26, 26.5, "e", "S1"),
    ]
    spans = choose_reference_spans(segments, "S0", max_total=15)
    assert spans == sorted(spans)
    assert sum(end - start for start, end in spans) <= 15 + 1e-9
    assert (15, 25) in spans  # the longest first
    assert choose_reference_spans(segments, "S1") == [(13, 14)]
    assert choose_reference_spans(segments, "S9") == []


def test_heartbeat_repeats_the_last_percent():
    lines = []
    progress = Progress("asr", lambda s, p, m: lines.append(format_line(s, p, m)))
    progress.update(5, "transcribing")
    import time

    with progress.heartbeat("transcribing", interval=0.05):
        time.sleep(0.18)
    assert len(lines) >= 3
    assert all(line.startswith("[asr]   5.0% transcribing") for line in lines)
    assert lines[-1].endswith(" s)")


def test_published_summary_keeps_every_key_when_it_fits_and_the_main_file_when_not() -> None:
    from dubbing.stages.runner import PUBLISHED_SUMMARY_BYTES, published_summary

    files = {
        "video": "jobs/ns/j/outputs/pt-BR/dubbed.mp4",
        "audio": "jobs/ns/j/outputs/pt-BR/dubbed.wav",
        "target.srt": "jobs/ns/j/outputs/pt-BR/pt-BR.srt",
        "source.srt": "jobs/ns/j/outputs/pt-BR/source.en.srt",
    }
    assert published_summary({"pt-BR": files}) == {"pt-BR": files}
    many = {f"l{i:02d}": {k: v.replace("pt-BR", f"l{i:02d}") for k, v in files.items()} for i in range(16)}
    compact = published_summary(many)
    assert compact == {lang: entry["video"] for lang, entry in many.items()}
    assert len(str(compact)) < PUBLISHED_SUMMARY_BYTES


def test_termination_summary_carries_the_last_progress_line(capsys):
    from dubbing.stages.progress import last_printed, print_sink

    print_sink("asr", 100.0, "done\nin two lines")
    assert capsys.readouterr().out == "[asr] 100.0% done in two lines\n"
    data = termination.summary("asr", True, last_log_line=last_printed())
    parsed = json.loads(termination.encode(data))
    assert parsed["lastLogLine"] == "[asr] 100.0% done in two lines"
    assert "lastLogLine" not in termination.summary("asr", True)  # none printed: no field
    long = termination.summary("asr", True, last_log_line="[asr] 50.0% " + "x" * 5000)
    assert len(long["lastLogLine"].encode()) <= 512
