#!/usr/bin/env python3
"""Measure how well the dubbed speech can be understood: back-transcription WER of the mix.

Runs the in-process demo pipeline (the generated two-speaker English sample, as
``python -m dubbing.demo`` makes it) into ``--to`` (default pt-BR) once per variant of
mix options, transcribes each dubbed audio track back with the packaged Whisper base
(faster-whisper, int8, CPU, in the target language) and compares it with the text the
TTS spoke (case and punctuation normalised: ``tests/backends/metrics.py``).  It also
transcribes the TTS clips alone, joined by short pauses with no mix and no time-fit: the
floor the voice itself sets.  A measuring tool, not a test and not the ``score`` stage.

    python -m bench.measure_dub_wer --work /tmp/measure \\
        --variant duck=mix.background=duck --variant replace=mix.background=replace

A variant is ``LABEL=STAGE.KEY=VALUE[;STAGE.KEY=VALUE...]`` (``LABEL=`` alone: the job's
defaults).  All variants share one artifact store under ``--work``, so the stages before
mix run once.  Writes ``<work>/wer.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dubbing.quality.metrics import edit_distance, normalise_words, word_error_rate

JOB_NAME = "sample"


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"replace=mix.background=replace;mix.maxStretch=1.1"`` → ("replace", [option, ...])."""
    label, _, rest = text.partition("=")
    if not label:
        raise ValueError(f"variant {text!r}: expected LABEL=STAGE.KEY=VALUE[;...]")
    return label, [item for item in rest.split(";") if item.strip()]


def store_json(store_root: Path, stage: str, language: str, name: str) -> Any:
    """One JSON output of a stage for this job, read through the per-job index of the local store."""
    index = json.loads((store_root / "jobs" / "local" / JOB_NAME / f"{stage}.json").read_text(encoding="utf-8"))
    key = index["entries"][language]["outputs"][name]["key"]
    return json.loads((store_root / key).read_text(encoding="utf-8"))


def store_file(store_root: Path, stage: str, language: str, name: str) -> Path:
    index = json.loads((store_root / "jobs" / "local" / JOB_NAME / f"{stage}.json").read_text(encoding="utf-8"))
    return store_root / index["entries"][language]["outputs"][name]["key"]


class BackTranscriber:
    """The packaged Whisper base, loaded once (faster-whisper, CPU, int8), beam search at temperature 0
    only: faster-whisper's fallback to sampling is not reproducible (seeding CTranslate2 does not
    reach its worker threads), and comparing variants needs the same words for the same audio.
    The price: where beam search loops, the repeated words count as insertions (WER can pass 1)."""

    def __init__(self, language: str, beam_size: int = 5) -> None:
        from faster_whisper import WhisperModel

        from dubbing.backends.base import BackendContext
        from dubbing.backends.whisper_weights import resolve

        folder = resolve(BackendContext.from_env().model_cache, "base")
        self.model = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=int(os.environ.get("MEASURE_THREADS", "2"))
        )
        self.language = language.split("-", 1)[0].lower()
        self.beam_size = beam_size

    def words(self, audio: Any) -> list[tuple[float, float, str]]:
        """Words with times of a file (or 16 kHz mono float samples); Silero VAD on, as the asr stage."""
        pieces, _ = self.model.transcribe(
            audio if not isinstance(audio, Path) else str(audio),
            language=self.language, beam_size=self.beam_size, temperature=0.0, word_timestamps=True, vad_filter=True, condition_on_previous_text=False,
        )  # fmt: skip
        return [(float(w.start), float(w.end), w.word) for piece in pieces for w in (piece.words or ())]

    def segment_errors(
        self, track: Path, placements: Sequence[dict], texts: dict[int, str], before: float = 0.15, after: float = 0.3
    ) -> list[dict]:
        """Each placed clip's stretch of the dubbed track transcribed on its own: errors per segment
        (robust to Whisper dropping a 30 s window of a long track)."""
        from dubbing.backends.audio import read_mono_at

        rate = 16000
        samples = read_mono_at(track, rate)
        rows = []
        for placement in sorted(placements, key=lambda p: float(p["start"])):
            begin = max(0, int((float(placement["start"]) - before) * rate))
            end = min(len(samples), int((float(placement["end"]) + after) * rate))
            hypothesis = " ".join(w for _, _, w in self.words(samples[begin:end]))
            reference = normalise_words(texts.get(int(placement["id"]), ""))
            rows.append({"id": int(placement["id"]), "status": placement.get("status"), "tempo": placement.get("tempo"),
                         "words": len(reference), "errors": edit_distance(reference, normalise_words(hypothesis)), "hypothesis": hypothesis.strip()})  # fmt: skip
        return rows


def pooled_wer(rows: Sequence[dict], capped: bool = False) -> float:
    """Errors over reference words, summed over segments; ``capped``: a segment counts at most its own
    words in errors (a decoder looping on one clip counts as all wrong, not as several clips' worth)."""
    words = sum(int(r["words"]) for r in rows)
    errors = sum(min(int(r["errors"]), int(r["words"])) if capped else int(r["errors"]) for r in rows)
    return round(errors / words, 4) if words else 0.0


def clean_voice_track(clip_paths: Sequence[Path], out: Path, pause: float = 0.6) -> Path:
    """The TTS clips one after another with ``pause`` seconds between them (16 kHz mono): no mix, no fit."""
    import numpy as np
    import soundfile as sf

    from dubbing.backends.audio import read_mono_at

    rate = 16000
    gap = np.zeros(int(pause * rate), dtype=np.float32)
    pieces = []
    for path in clip_paths:
        pieces.extend([read_mono_at(path, rate), gap])
    sf.write(str(out), np.concatenate(pieces) if pieces else gap, rate, subtype="PCM_16")
    return out


def fit_share(timefit: dict) -> dict[str, Any]:
    placements = timefit["placements"]
    count = max(1, len(placements))
    in_slot = sum(1 for p in placements if p["status"] != "tooLong")
    unstretched = sum(1 for p in placements if float(p["tempo"]) <= 1.0 + 1e-9)
    return {
        "segments": len(placements),
        "inSlotShare": round(in_slot / count, 3),
        "unstretchedShare": round(unstretched / count, 3),
        "maxTempo": max((float(p["tempo"]) for p in placements), default=1.0),
        "statuses": {
            s: sum(1 for p in placements if p["status"] == s) for s in sorted({p["status"] for p in placements})
        },
    }


def table(results: dict) -> str:
    """The variants side by side: track WER, per-clip WER (raw and capped), the fit."""
    lines = [
        f"{'variant':<18} {'track WER':>9} {'clip WER':>8} {'capped':>7} {'in slot':>8} {'unstretched':>12} {'max tempo':>10}  options"
    ]
    clean = results["cleanVoice"]
    lines.append(f"{'clean voice':<18} {clean['wer']:>9.3f} {clean['segmentWer']:>8.3f} {clean.get('segmentWerCapped', float('nan')):>7.3f} {'-':>8} {'-':>12} {'-':>10}"
                 "  TTS clips alone (track: 0.6 s pauses)")  # fmt: skip
    for label, row in results["variants"].items():
        fit = row["fit"]
        lines.append(f"{label:<18} {row['wer']:>9.3f} {row['segmentWer']:>8.3f} {row.get('segmentWerCapped', 0):>7.3f} {fit['inSlotShare']:>8.2f}"
                     f" {fit['unstretchedShare']:>12.2f} {fit['maxTempo']:>10.3f}  {';'.join(row['options'])}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", required=True, help="work directory (sample, shared artifact store, outputs, wer.json)"
    )
    parser.add_argument("--to", default="pt-BR")
    parser.add_argument(
        "--seconds", type=float, default=40.0, help="the generated sample lasts at least this long (as the demo)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="LABEL=STAGE.KEY=VALUE[;...], repeatable (default: one run with defaults)",
    )
    parser.add_argument(
        "--backend", action="append", default=[], metavar="STAGE=NAME", help="backend choice for every variant"
    )
    parser.add_argument("--table", action="store_true", help="only print the table of an earlier <work>/wer.json")
    args = parser.parse_args(argv)
    if args.table:
        results = json.loads((Path(args.work) / "wer.json").read_text(encoding="utf-8"))
        for row in results["variants"].values():
            row.setdefault("segmentWerCapped", pooled_wer(row["perSegment"], capped=True))
        print(table(results))
        return 0

    from dubbing import cli, samples
    from dubbing.backends.audio import read_mono_at

    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sample = work / "sample.mp4"
    if not sample.exists():
        samples.make_clip(sample, count=None, min_seconds=args.seconds)
    store_root = work / ".artifacts"
    variants = [parse_variant(v) for v in args.variant] or [("default", [])]
    whisper = BackTranscriber(args.to)
    results: dict[str, Any] = {"language": args.to, "variants": {}}
    texts: dict[int, str] = {}
    for label, options in variants:
        out = work / label
        command = ["run", str(sample), "--from", "en", "--to", args.to, "--out", str(out), "--name", JOB_NAME,
                   "--artifacts", store_root.as_uri(), "--quiet"]  # fmt: skip
        for option in options:
            command += ["--option", option]
        for backend in args.backend:
            command += ["--backend", backend]
        code = cli.main(command)
        if code != 0:
            raise SystemExit(f"variant {label}: dubbing run exited {code}")
        clips = store_json(store_root, "tts", args.to, "clips.json")["clips"]
        texts = {int(c["id"]): c["text"] for c in clips}
        reference = " ".join(c["text"] for c in sorted(clips, key=lambda c: float(c["start"])))
        timefit = store_json(store_root, "mix", args.to, "timefit.json")
        track = store_file(store_root, "mix", args.to, "dubbed.wav")
        hypothesis = " ".join(w for _, _, w in whisper.words(track))
        segments = whisper.segment_errors(track, timefit["placements"], texts)
        results["variants"][label] = {
            "options": options,
            "wer": round(word_error_rate(reference, hypothesis), 4),
            "segmentWer": pooled_wer(segments),
            "segmentWerCapped": pooled_wer(segments, capped=True),
            "referenceWords": len(normalise_words(reference)),
            "fit": fit_share(timefit),
            "bed": timefit.get("bed"),
            "perSegment": segments,
            "hypothesis": hypothesis.strip(),
        }
        row = results["variants"][label]
        print(f"{label}: track WER {row['wer']:.3f}, segment WER {row['segmentWer']:.3f}", file=sys.stderr, flush=True)
    clips = store_json(store_root, "tts", args.to, "clips.json")["clips"]
    ordered = sorted(clips, key=lambda c: float(c["start"]))
    clean = clean_voice_track(
        [store_file(store_root, "tts", args.to, c["clip"]) for c in ordered], work / "clean-voice.wav"
    )
    clean_hyp = " ".join(w for _, _, w in whisper.words(clean))
    reference = " ".join(c["text"] for c in ordered)
    clean_rows = []
    for c in ordered:  # each clip alone, as synthesised
        hyp = " ".join(
            w for _, _, w in whisper.words(read_mono_at(store_file(store_root, "tts", args.to, c["clip"]), 16000))
        )
        ref_words = normalise_words(c["text"])
        clean_rows.append(
            {"id": int(c["id"]), "words": len(ref_words), "errors": edit_distance(ref_words, normalise_words(hyp))}
        )
    results["cleanVoice"] = {
        "wer": round(word_error_rate(reference, clean_hyp), 4),
        "segmentWer": pooled_wer(clean_rows),
        "segmentWerCapped": pooled_wer(clean_rows, capped=True),
        "hypothesis": clean_hyp.strip(),
    }
    results["reference"] = reference
    (work / "wer.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))
    print(f"wrote {work / 'wer.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
