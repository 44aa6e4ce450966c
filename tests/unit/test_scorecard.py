"""The scorecard's pure half (dubbing.quality.scorecard): sections, summary, termination outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dubbing.quality import scorecard as card
from dubbing.quality.scorecard import HeardWord, Line
from dubbing.stages import fitreport, retime, timefit


def mix_report(slots, duration=20.0, max_stretch=1.25):
    """A ``timefit.json`` as the mix stage writes it (placements from the real time-fit)."""
    placements = timefit.plan(slots, duration, max_stretch)
    return {
        "options": {"maxStretch": max_stretch, "background": "duck", "duckDb": -12.0, "loudnessLufs": -16.0},
        "durationSeconds": duration,
        "summary": timefit.summary(placements),
        "placements": [p.as_dict() for p in placements],
    }


SLOTS = [
    timefit.Slot(0, 1.0, 3.0, 1.5),  # fits
    timefit.Slot(1, 4.0, 5.0, 1.8),  # runs into the pause
    timefit.Slot(2, 6.0, 7.0, 2.2),  # stretched (window 6.0-7.95)
    timefit.Slot(3, 8.0, 9.0, 4.0),  # too long: needs 4.0 / 1.95 = 2.05x
    timefit.Slot(4, 10.0, 11.0, 0.9),  # waits for #3 to end (no two lines at once), so it runs into the pause
]


def test_timing_is_read_from_the_mix_report_not_recomputed():
    report = mix_report(SLOTS)
    got = card.timing_section(report, {3: "S1"})
    assert got["segments"] == 5 and got["inSlot"] == 4 and got["fitShare"] == 0.8
    assert got["counts"] == {"fits": 1, "usesPause": 2, "stretched": 1, "tooLong": 1}
    [misfit] = got["misfits"]
    assert misfit["id"] == 3 and misfit["speaker"] == "S1" and misfit["allowedStretch"] == 1.25
    assert misfit["neededStretch"] == pytest.approx(4.0 / 1.95, abs=1e-3)
    placed = next(p for p in report["placements"] if p["id"] == 3)
    assert got["overrunSeconds"] == pytest.approx(placed["overflow"], abs=1e-3) == misfit["overrunSeconds"]
    assert "1.25x" in misfit["action"] and "past its window" in misfit["action"]
    assert got["maxTempoUsed"] == 1.25
    empty = card.timing_section({"placements": [], "options": {"maxStretch": 1.25}})
    assert empty["fitShare"] is None and empty["misfits"] == []


def test_every_segment_is_listed_with_its_slot_and_placement():
    report = mix_report(SLOTS)
    clips = [{"id": s.id, "speaker": f"S{s.id % 2}", "start": s.start, "end": s.end, "text": f"frase {s.id}", "seconds": s.clip_seconds}
             for s in SLOTS]  # fmt: skip
    got = card.timing_section(report, None, card.lines_from(clips, report))
    rows = got["placements"]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4] and got["mediaSeconds"] == 20.0
    fits, pause, stretched, misfit, _ = rows
    assert (fits["slotStart"], fits["slotEnd"], fits["start"], fits["end"]) == (1.0, 3.0, 1.0, 2.5)
    assert (
        fits["status"] == "fits" and fits["inSlot"] is True and fits["overrunSeconds"] == 0.0 and fits["tempo"] == 1.0
    )
    assert (
        pause["status"] == "usesPause"
        and pause["end"] == 5.8
        and pause["slotEnd"] == 5.0
        and pause["windowEnd"] == 5.95
    )
    assert (
        stretched["status"] == "stretched" and stretched["tempo"] > 1.0 and stretched["end"] <= stretched["windowEnd"]
    )
    assert (
        misfit["inSlot"] is False
        and misfit["status"] == "tooLong"
        and misfit["speaker"] == "S1"
        and misfit["text"] == "frase 3"
    )
    assert (
        misfit["end"] == pytest.approx(8.0 + 4.0 / 1.25, abs=1e-3) and misfit["overrunSeconds"] == got["overrunSeconds"]
    )
    bare = card.timing_section(report, {3: "S1"})["placements"][3]  # no lines: the slot's end is not known
    assert bare["slotStart"] == 8.0 and bare["slotEnd"] is None and bare["speaker"] == "S1" and bare["text"] is None


def test_timing_says_what_each_segment_needed_with_a_faster_reading_and_a_slowed_video():
    """A report as the mix writes it with ``fit: slowVideo`` (the real retime and fitreport): rates,
    slow-downs and residual overruns per segment and per misfit, the slots on the output timeline."""
    slots = [*SLOTS[:3], timefit.Slot(3, 8.0, 9.0, 6.0), SLOTS[4]]
    retiming = retime.plan(slots, 20.0, 1.25, 1.5)
    rates = {2: 1.1, 3: 1.25}
    reports = [fitreport.segment_report(p, {"rate": rates.get(p.id, 1.0)}, retiming) for p in retiming.placements]
    report = {
        "options": {"maxStretch": 1.25, "fit": "slowVideo", "maxSlowdown": 1.5},
        "durationSeconds": retiming.output_duration,
        "retime": retiming.as_dict(),
        "placements": reports,
    }
    clips = [
        {"id": s.id, "speaker": "S0", "start": s.start, "end": s.end, "text": "x", "seconds": s.clip_seconds}
        for s in slots
    ]
    got = card.timing_section(report, None, card.lines_from(clips, report))
    assert got["fit"] == "slowVideo" and got["readFaster"] == 2 and got["maxRateUsed"] == 1.25
    assert got["videoSlowed"] == 1 and got["addedSeconds"] == pytest.approx(retiming.output_duration - 20.0, abs=1e-3)
    [misfit] = got["misfits"]  # 6 s into 1.95 s: more than stretch and the slow-down bound give
    assert misfit["id"] == 3 and misfit["rate"] == 1.25 and misfit["stretch"] == 1.25 and misfit["videoSlowdown"] == 1.5
    assert misfit["action"].startswith("read at 1.25x, played at 1.25x (the bound), over video slowed 1.50x and ran")
    rows = {r["id"]: r for r in got["placements"]}
    assert rows[2]["rate"] == 1.1 and rows[2]["videoSlowdown"] == 1.0 and rows[3]["videoSlowdown"] == 1.5
    # the slot after the slowed span moved by the added seconds, as the dub and the video did
    assert rows[4]["slotStart"] == pytest.approx(10.0 + retiming.spans[0].extra, abs=1e-3)
    assert rows[0]["rate"] == 1.0 and rows[0]["slotStart"] == 1.0


def test_lines_follow_the_placements():
    report = mix_report(SLOTS)
    clips = [{"id": s.id, "speaker": f"S{s.id % 2}", "start": s.start, "end": s.end, "text": f"frase {s.id}", "clip": f"clips/{s.id:04d}.wav",
              "seconds": s.clip_seconds} for s in reversed(SLOTS)]  # fmt: skip
    lines = card.lines_from(clips, report)
    assert [line.id for line in lines] == [0, 1, 2, 3, 4]
    stretched = lines[2]
    assert stretched.start == 6.0 and stretched.end == pytest.approx(
        6.0 + 2.2 / next(p["tempo"] for p in report["placements"] if p["id"] == 2)
    )
    assert (stretched.source_start, stretched.source_end) == (6.0, 7.0)


LINES = [
    Line(0, "S0", "Bom dia e bem-vindos.", 1.0, 2.5, 1.0, 2.5),
    Line(1, "S1", "Obrigado, hoje vamos falar de livros.", 3.0, 5.5, 3.0, 5.5),
]


def words(*items):
    return [HeardWord(start, start + 0.3, word) for start, word in items]


def test_intelligibility_perfect_wrong_and_silent():
    heard = words((1.1, "Bom"), (1.4, "dia"), (1.7, "e"), (2.0, "bem-vindos."), (3.1, "Obrigado,"), (3.4, "hoje"), (3.7, "vamos"),
                  (4.0, "falar"), (4.3, "de"), (4.6, "livros."))  # fmt: skip
    text = " ".join(w.word for w in heard)
    perfect = card.intelligibility_section(
        LINES, text, heard, "dub-only speech", {"backend": "faster-whisper", "model": "base"}
    )
    assert (
        perfect["wer"] == 0.0
        and perfect["cer"] == 0.0
        and perfect["worstLines"] == []
        and perfect["referenceWords"] == 11
    )
    assert perfect["asr"]["model"] == "base" and perfect["noSpeechHeard"] is False

    wrong = [HeardWord(w.start, w.end, "livro" if w.word == "livros." else w.word) for w in heard]
    got = card.intelligibility_section(LINES, " ".join(w.word for w in wrong), wrong, "dub-only speech", {})
    assert got["wer"] == pytest.approx(1 / 11, abs=1e-4) and got["wordEdits"]["substitutions"] == 1
    assert [item["id"] for item in got["worstLines"]] == [1] and got["worstLines"][0]["heard"].endswith("livro")

    silent = card.intelligibility_section(LINES, "", [], "dub-only speech", {})
    assert (
        silent["wer"] == 1.0
        and silent["cer"] == 1.0
        and silent["noSpeechHeard"] is True
        and silent["linesWithErrors"] == 2
    )
    assert "error" in card.intelligibility_section([], "anything", [], "dub-only speech", {})


def test_heard_words_go_to_the_line_they_fall_in_else_the_nearest():
    # 2.75 s is within both lines' slack: the nearer centre (line 0) wins; 2.9 s is only near line 1; 9.0 s is nearest line 1
    heard = words((1.2, "bom"), (2.6, "dia"), (2.75, "hoje"), (9.0, "tarde"))
    assert card.assign_words(LINES, heard) == {0: ["bom", "dia"], 1: ["hoje", "tarde"]}


def unit(*values):
    v = np.array(values, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_voice_similarities_and_whether_voices_are_told_apart():
    source = {"S0": unit(1, 0, 0), "S1": unit(0, 1, 0)}
    dub = {"S0": unit(1, 0.2, 0), "S1": unit(0.1, 1, 0.3)}
    seconds = {"S0": {"sourceSeconds": 10.0, "dubSeconds": 11.0}, "S1": {"sourceSeconds": 8.0, "dubSeconds": 9.0}}
    got = card.voice_section(source, dub, seconds, {"S0": 0.97, "S1": 0.95}, {"S0": 0.9, "S1": 0.93}, "enc")
    s0, s1 = got["speakers"]
    assert s0["sourceSimilarity"] == pytest.approx(card.cosine(source["S0"], dub["S0"]), abs=1e-3)
    assert got["minSourceSimilarity"] == min(s0["sourceSimilarity"], s1["sourceSimilarity"])
    assert got["maxCrossSpeakerSimilarity"] == pytest.approx(card.cosine(dub["S0"], dub["S1"]), abs=1e-3)
    assert got["sameSpeakerSimilarity"] == 0.95 and got["voicesDistinct"] is True
    assert got["sourceMaxCrossSpeakerSimilarity"] == pytest.approx(0.0, abs=1e-6)
    assert s0["dubSeconds"] == 11.0 and s0["dubSelfSimilarity"] == 0.97
    one_voice = card.voice_section(
        source, {"S0": unit(1, 0, 0), "S1": unit(1, 0.01, 0)}, seconds, {"S0": 0.97, "S1": 0.95}
    )
    assert one_voice["maxCrossSpeakerSimilarity"] >= 0.99 and one_voice["voicesDistinct"] is False
    alone = card.voice_section({"S0": unit(1, 0)}, {"S0": unit(1, 1)}, {})
    assert alone["maxCrossSpeakerSimilarity"] is None and alone["voicesDistinct"] is None
    assert -1.0 <= card.cosine(unit(1, 0), unit(-1, 0.001)) <= -0.99


def test_loudness_against_the_target():
    got = card.loudness_section({"input_i": "-16.4", "input_tp": "-1.2", "input_lra": "5.1"}, -16.0, -1.5)
    assert (got["integratedLufs"], got["truePeakDbtp"], got["loudnessRangeLu"]) == (-16.4, -1.2, 5.1)
    assert got["deviationLu"] == -0.4 and got["truePeakOverLimit"] is True and got["silent"] is False
    silent = card.loudness_section({"input_i": "-inf", "input_tp": "-inf", "input_lra": "0.0"}, -16.0, -1.5)
    assert silent["integratedLufs"] is None and silent["silent"] is True and silent["deviationLu"] is None
    assert "error" in card.loudness_section(None, -16.0, -1.5)


def test_onsets_are_rising_edges_of_speech_energy():
    frame = 0.01
    energy = np.full(300, -80.0)
    energy[50:60] = -20.0  # speech 0.50-0.60 s
    energy[100:101] = -20.0  # a click (one frame): not speech
    energy[150:250] = -20.0  # speech 1.50-2.50 s
    active = card.active_frames(energy, card.speech_threshold(energy), min_run=5)
    assert not active[100] and active[55] and active[200]
    assert card.onset(active, frame, 0.0, 1.0) == pytest.approx(0.5)
    assert card.onset(active, frame, 1.0, 2.0) == pytest.approx(1.5)
    assert card.onset(active, frame, 1.6, 2.4) is None  # inside speech: no rising edge
    assert card.speech_threshold(np.full(10, -90.0)) == -55.0  # digital silence never counts


def test_sync_drift_statistics():
    drifts = [{"id": 0, "driftSeconds": 0.1}, {"id": 1, "driftSeconds": -0.3}, {"id": 2, "driftSeconds": 0.05}]
    got = card.sync_section(drifts, skipped=1)
    assert got["onsetDriftMedianSeconds"] == 0.05 and got["onsetDriftMaxAbsSeconds"] == 0.3
    assert got["measured"] == 3 and got["segmentsWithoutOnset"] == 1 and got["worst"][0]["id"] == 1
    assert got["perSegment"] == [
        {"id": 0, "driftSeconds": 0.1},
        {"id": 1, "driftSeconds": -0.3},
        {"id": 2, "driftSeconds": 0.05},
    ]
    assert "error" in card.sync_section([], skipped=4)


def full_card(**overrides):
    sections = {
        "intelligibility": {"wer": 0.12, "cer": 0.05, "transcribed": "dub-only speech", "referenceWords": 40},
        "timing": card.timing_section(mix_report(SLOTS)),
        "voice": {"minSourceSimilarity": 0.41, "maxCrossSpeakerSimilarity": 0.3, "sameSpeakerSimilarity": 0.95, "voicesDistinct": True,
                  "speakers": [{"speaker": "S0", "sourceSimilarity": 0.41}]},
        "loudness": card.loudness_section({"input_i": "-16.1", "input_tp": "-1.6", "input_lra": "4"}, -16.0, -1.5),
        "sync": card.sync_section([{"id": 0, "driftSeconds": 0.04}, {"id": 1, "driftSeconds": -0.2}]),
    }  # fmt: skip
    sections.update(overrides)
    return card.scorecard("pt-BR", "en", sections, segments=5)


def test_scorecard_has_a_version_units_and_a_compact_summary():
    got = full_card()
    assert got["apiVersion"] == "dubbing.dev/scorecard/v1" and got["version"] == card.VERSION
    assert got["language"] == "pt-BR" and got["sourceLanguage"] == "en" and got["units"]["wer"].startswith("ratio")
    assert got["summary"] == {
        "wer": 0.12, "cer": 0.05, "fitShare": 0.8, "inSlot": 4, "segments": 5, "overrunSeconds": got["timing"]["overrunSeconds"],
        "minSourceSimilarity": 0.41,
        "maxCrossSpeakerSimilarity": 0.3, "sameSpeakerSimilarity": 0.95, "lufs": -16.1, "truePeak": -1.6,
        "onsetDriftMedian": -0.08, "onsetDriftMax": 0.2,
    }  # fmt: skip
    json.dumps(got)  # plain JSON
    text = "\n".join(card.table(got))
    assert (
        "WER 0.12" in text
        and "4/5 in their slot" in text
        and "#3 needs 2.05x" in text
        and "-16.1 LUFS" in text
        and "distinct" in text
    )


def test_a_section_that_could_not_be_measured_says_why_and_the_rest_stands():
    got = full_card(intelligibility={"error": "ASR backend not ready: weights absent"})
    assert "wer" not in got["summary"] and got["summary"]["unmeasured"] == ["intelligibility"]
    assert got["summary"]["lufs"] == -16.1
    assert "not measured: ASR backend not ready" in "\n".join(card.table(got))
    assert card.scorecard("es", None, {})["summary"]["unmeasured"] == [
        "intelligibility",
        "loudness",
        "sync",
        "timing",
        "voice",
    ]


def test_termination_outputs_shrink_to_fit():
    quality = full_card()["summary"]
    one = {"pt-BR": {"report": "jobs/ns/j/outputs/pt-BR/scorecard.json", "quality": quality}}
    assert card.summary_outputs(one) == one

    def languages(count):
        return {
            f"l{i:02d}": {"report": f"jobs/ns/j/outputs/l{i:02d}/scorecard.json", "quality": quality}
            for i in range(count)
        }

    def size(value):
        return len(json.dumps(value, separators=(",", ":")))

    # (7, not 8, since the summary carries inSlot and segments: 27 bytes more per language)
    assert size(languages(7)) <= 2500 and card.summary_outputs(languages(7)) == languages(7)
    assert size(languages(10)) > 2500
    core = card.summary_outputs(languages(10))
    assert set(core["l00"]["quality"]) == set(card.CORE_FIELDS) and size(core) <= 2500
    keys = card.summary_outputs(languages(16))  # the most target languages a job may have
    assert keys["l15"] == {"report": "jobs/ns/j/outputs/l15/scorecard.json"} and size(keys) <= 2500
