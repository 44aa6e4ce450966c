"""What a stage process reads from its environment (``dubbing stage``, ``dubbing run``, ``dubbing models``).

In a cluster the operator sets these on every stage Pod (docs/operator.md, "Stage Pods"); on a
laptop they are optional. The object store's connection (``DUBBING_S3_*``) is
:class:`dubbing.artifacts.S3Settings`, read only when the artifact store is ``s3://``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..stages.termination import DEFAULT_PATH as TERMINATION_MESSAGE_PATH
from .base import Bool, CommaList, DubbingSettings, Seconds, setting


def _home_cache(*parts: str) -> Path:
    return Path.home().joinpath(".cache", "dubbing", *parts)


class StageSettings(DubbingSettings):
    """Settings of a stage process: model cache, device, artifact store, scratch space."""

    artifacts: str | None = setting(
        None,
        "The artifact store: `s3://<bucket>/<prefix>` (MinIO/S3, connection from the `DUBBING_S3_*` variables) "
        "or `file:///abs/path` (a directory). `--artifacts` overrides it.",
    )
    model_cache: Path = setting(
        default_factory=lambda: _home_cache("models"),
        description="Where backends find model weights (a volume in the cluster: the operator sets its "
        "`DUBBING_MODEL_CACHE_MOUNT`). `--model-cache` overrides it.",
        doc_default="`~/.cache/dubbing/models`",
    )
    device: Literal["auto", "cpu", "cuda"] = setting(
        "auto", "`cpu`, `cuda`, or `auto`: CUDA when torch or CTranslate2 sees a GPU. `--device` overrides it."
    )
    work_dir: Path | None = setting(None, "Parent of the scratch directory (unset: the system's temporary directory).")
    keep_work: Bool = setting(False, "Keep the scratch directory after the stage (for debugging).")
    heartbeat_seconds: Seconds = setting(
        10.0,
        "During long backend calls the last progress line is repeated with the elapsed time this often (0: never).",
        ge=0,
    )
    termination_message_path: str = setting(
        TERMINATION_MESSAGE_PATH,
        "Where the one-line JSON summary goes (Kubernetes reads it as the container's termination message). "
        "`--termination-message-path` overrides it.",
    )
    pod_name: str | None = setting(
        None,
        "The stage Pod's name (the operator sets it from the Pod's metadata). Set: the stage keeps a bounded "
        "copy of its stdout and stderr and stores it as `jobs/<namespace>/<name>/logs/<pod>.log`, where the "
        "web UI reads it once the Pod is gone.",
    )
    log_copy_seconds: Seconds = setting(
        30.0,
        "While a stage Pod runs, its log copy is stored again this often when it has grown, so a Pod killed "
        "without warning (out of memory, SIGKILL) leaves its log up to then (0: only at the end).",
        ge=0,
    )
    cache_dir: Path = setting(
        default_factory=_home_cache,
        description="Root of files derived from installed packages (joined Whisper and Kokoro weights); "
        "the development tools keep their downloads there too.",
        doc_default="`~/.cache/dubbing`",
    )
    kokoro_dir: Path | None = setting(
        None,
        "A folder holding the Kokoro model and voices, looked at before the model cache (the CPU stage image sets it).",
    )
    local_buckets: Path | None = setting(
        None,
        "With a `file://` artifact store: where other buckets (a job's `spec.input.bucket`) are, as "
        "`<dir>/<bucket>/<key>` (unset: `<store>/_buckets`).",
    )
    coqui_terms_accepted: Bool = setting(
        False, "Accept the Coqui Public Model License, which the XTTS-v2 voice-cloning backend needs."
    )
    coqui_tos_agreed: Bool = setting(
        False, "Coqui's own variable for the same (either one accepts).", env="COQUI_TOS_AGREED"
    )
    hf_token: str | None = setting(
        None, "Hugging Face token for gated models (pyannote diarization).", env="HF_TOKEN", secret=True
    )
    input_urls: Bool = setting(
        False,
        "Let jobs name their input by URL (`spec.input.url`; in a cluster through the operator's stage env). "
        "Off: such a job fails with InputURLRefused. On: "
        "only public addresses are fetched (after resolving the name, and again on every redirect).",
    )
    input_url_allow_networks: CommaList = setting(
        (),
        "Networks (CIDRs) input URLs may reach besides public addresses, e.g. an internal media server's.",
        doc_default="none",
    )
    llm_endpoint: str | None = setting(
        None,
        "Base URL of an OpenAI-compatible server for the `llm` translate backend (vLLM, Ollama, llama.cpp), "
        "e.g. `http://vllm.ai:8000/v1`.",
    )
    llm_model: str | None = setting(
        None, "The model the `llm` translate backend asks for, unless the job names one (`stages.translate.model`)."
    )
    llm_api_key: str | None = setting(
        None, "Bearer token for the `llm` endpoint (unset: no Authorization header).", secret=True
    )
    llm_timeout_seconds: Seconds = setting(
        120.0, "How long one chat completion request to the `llm` endpoint may take.", gt=0
    )
    llm_concurrency: int = setting(2, "Requests the `llm` translate backend keeps in flight at once.", ge=1, le=64)
