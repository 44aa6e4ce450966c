"""score (per target language, after mux): the dub's quality scorecard.

Measures the dubbed language (:mod:`dubbing.quality`): back-transcription WER/CER of the
dubbed speech against the synthesised text (the job's ASR backend and model, in the
target language), what the time-fit did (the mix's ``timefit.json``), speaker similarity
source↔dub and dub↔dub (the packaged speaker encoder), loudness and true peak of the dub
track against the target, and speech-onset drift per segment.  A part that cannot be
measured (the ASR backend not ready, say) says why in its section; the stage still succeeds.

Inputs: the tts clips and ``clips.json``, the mix's ``dubbed.wav`` and ``timefit.json``,
the asr transcript, the source speech (``speech.wav``) and the probe.  Output
``scorecard.json``, published as ``jobs/<ns>/<name>/outputs/<lang>/scorecard.json``.  The
termination summary's outputs are ``{<lang>: {"report": <key>, "quality": {...}}}`` (the
compact figures the operator writes into ``status.outputs.languages[]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..backends.scorer import ASR_OPTION, asr_request
from ..quality import scorecard as card
from ..quality.measure import ScoreInputs, Tools, score, speaker_encoder
from ..segments import Transcript
from .base import Stage
from .cachekey import SCHEDULING_FIELDS
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure

#: ASR compute types a CPU cannot run (the score stage runs on the CPU unless given a GPU).
GPU_ONLY_COMPUTE = frozenset({"float16", "int8_float16"})


def scoring_asr_options(ctx: StageContext) -> dict[str, Any]:
    """The asr stage's options as the score stage uses them: ``score.asrModel`` overrides the
    model, and a GPU-only compute type falls back to the default on a CPU."""
    options = ctx.options("asr")
    override = ctx.options("score").get("asrModel")
    if override:
        options["model"] = override
    if ctx.backend_context.device != "cuda" and options.get("computeType") in GPU_ONLY_COMPUTE:
        options["computeType"] = "auto"
    return options


def output_duration(probe: Mapping[str, Any], timefit: Mapping[str, Any]) -> float:
    """The dub's length: the input's, or longer where the mix slowed the video (``fit: slowVideo``)."""
    retimed = (timefit.get("retime") or {}).get("outputDurationSeconds")
    return max(float(probe["duration"]), float(retimed or 0.0))


def score_inputs(ctx: StageContext, language: str, refs: Mapping[str, Ref]) -> ScoreInputs:
    """The scoring function's inputs as local files, from the stage's input references."""

    def load(name: str) -> Any:
        return json.loads(ctx.fetch(refs[name]).read_text(encoding="utf-8"))

    clips = list(load("clips.json").get("clips") or [])
    timefit = load("timefit.json")
    transcript = Transcript.from_dict(load("transcript.json"))
    return ScoreInputs(
        language=language,
        source_language=transcript.language,
        clips=clips,
        clip_paths={int(c["id"]): ctx.fetch(refs[c["clip"]]) for c in clips if c.get("clip") in refs},
        timefit=timefit,
        source_segments=list(transcript.segments),
        source_speech=ctx.fetch(refs["speech.wav"]),
        dub_mix=ctx.fetch(refs["dubbed.wav"]),
        duration=output_duration(load("probe.json"), timefit),
    )


def scoring_tools(ctx: StageContext, options: Mapping[str, Any]) -> Tools:
    """The ASR backend (the asr stage's, through the context: one loaded model per process) and the
    speaker encoder; one that cannot be had leaves its reason instead."""
    tools = Tools(transcribe_mix=bool(options.get("transcribeMix", False)))
    requested, _ = asr_request(options)
    full = scoring_asr_options(
        ctx
    )  # with its scheduling fields: the asr stage's own instance when nothing was overridden
    try:
        tools.transcriber = ctx.backend("asr", requested, full)
        identity = tools.transcriber.identity()
        tools.asr = {"backend": tools.transcriber.name, "model": identity.get("model")}
    except StageFailure as failure:
        tools.transcriber_reason = failure.message
    tools.encoder, tools.encoder_reason, tools.encoder_name = speaker_encoder()
    return tools


class Score(Stage):
    name = "score"
    #: 2: the scorecard lists every segment's slot and placement (timing.placements) and drift (sync.perSegment).
    version = 2

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        tts = ctx.upstream("tts", language)
        refs = {name: ref for name, ref in tts.items() if name == "clips.json" or name.startswith("clips/")}
        mix = ctx.upstream("mix", language)
        refs["dubbed.wav"] = mix["dubbed.wav"]
        refs["timefit.json"] = mix["timefit.json"]
        refs["transcript.json"] = ctx.upstream("asr")["transcript.json"]
        refs["speech.wav"] = ctx.upstream("separate")["speech.wav"]
        refs["probe.json"] = ctx.upstream("extract")["probe.json"]
        return refs

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        # The ASR options (minus scheduling fields) are part of the score's cache key via the backend's identity and these.
        asr = {k: v for k, v in scoring_asr_options(ctx).items() if k not in SCHEDULING_FIELDS or k == "backend"}
        return {**ctx.options(self.name), ASR_OPTION: asr}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        inputs = score_inputs(ctx, str(unit.language), unit.inputs)
        with unit.step("load"):
            tools = scoring_tools(ctx, unit.options)
        with unit.step("score"), unit.progress.heartbeat("scoring"):
            scored = score(inputs, tools, unit.out_dir / "work", progress=unit.progress.update)
        path = unit.out_dir / "scorecard.json"
        path.write_text(json.dumps(scored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return UnitResult(
            outputs={"scorecard.json": path},
            metrics={
                "quality": scored["summary"],
                "segments": scored.get("segments"),
                "partSeconds": scored.get("timings"),
            },
        )

    def publish(self, ctx: StageContext, language: str | None, outputs: Mapping[str, Ref]) -> dict[str, str]:
        return {"report": ctx.publish(outputs["scorecard.json"], "scorecard.json", language)}

    def summary_outputs(
        self, published: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        per_language = {
            lang: {
                "report": (published.get(lang) or {}).get("report"),
                "quality": (entry.get("metrics") or {}).get("quality") or {},
            }
            for lang, entry in entries.items()
        }
        return card.summary_outputs(per_language)


STAGE = Score
