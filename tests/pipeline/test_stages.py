"""The stage runtime and the stages on real media, with test doubles for the model backends.

extract, separate (none), mix and mux are the real thing (ffmpeg); diarize, asr,
translate and tts are doubles (tests/pipeline/doubles.py) so this file runs in seconds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from dubbing.api.v1alpha1 import STAGES
from dubbing.artifacts import LocalStore
from dubbing.stages import layout
from dubbing.stages.context import StageContext
from dubbing.stages.errors import StageFailure
from dubbing.stages.pipeline import make_job, run_pipeline
from dubbing.stages.runner import run_stage

from . import doubles

LANGUAGE_STAGES = {"translate", "tts", "mix", "mux", "score"}


def quiet(stage, percent, message):
    pass


def run(job, store, clip, out=None):
    return run_pipeline(job, store, clip.path, out, sink=quiet)


def manifests(store: LocalStore, stage: str) -> list[dict]:
    return [store.get_json(info.key) for info in store.list(f"cache/{stage}/") if info.key.endswith("/manifest.json")]


def ffprobe_streams(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


@pytest.fixture
def fakes(monkeypatch, short_clip):
    doubles.install(monkeypatch, short_clip)
    return doubles


def test_pipeline_with_doubles_writes_manifests_and_reuses_everything(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="short")
    first = run(job, store, short_clip, tmp_path / "out")
    assert [o.stage for o in first.outcomes] == list(STAGES)
    assert not any(o.cache_hit for o in first.outcomes)

    # every stage left one complete manifest with inputs, backend, options, timings, metrics, tools
    for stage in STAGES:
        [manifest] = manifests(store, stage)
        assert manifest["stage"] == stage
        assert manifest["backend"]["name"]
        assert manifest["timings"]["wallSeconds"] >= 0 and isinstance(manifest["timings"]["steps"], dict)
        assert manifest["tools"]["ffmpeg"]
        assert manifest["createdAt"].endswith("Z")
        for ref in list(manifest["inputs"].values()) + list(manifest["outputs"].values()):
            assert len(ref["sha256"]) == 64 and ref["size"] >= 0
        for ref in manifest["outputs"].values():
            assert store.stat(ref["key"]).size == ref["size"]
        assert manifest["key"] in manifest["outputs"][next(iter(manifest["outputs"]))]["key"]
        index = store.get_json(layout.job_index_key("local", "short", stage))
        assert index["cacheHit"] is False and index["entries"]
    mix = manifests(store, "mix")[0]
    assert mix["language"] == "pt-BR" and {"segments", "notFitting", "tooLong", "loudnessLufs"} <= set(mix["metrics"])
    assert manifests(store, "tts")[0]["metrics"]["segments"] == len(short_clip.segments)
    # the speaker's own voice was cut into reference clips and handed to the synthesizer
    assert all(refs and refs[0].name.startswith("S") for refs in fakes.FakeSynthesizer.refs_seen)
    # each segment's speaker was named, after one cast of the speakers in the order they first speak
    spoken = [s for s in sorted(short_clip.segments, key=lambda s: s.start)]
    expected_speakers = ["S0" if s.speaker == "A" else "S1" for s in spoken]
    assert fakes.FakeSynthesizer.speakers_seen == expected_speakers
    assert fakes.FakeSynthesizer.cast_seen == [list(dict.fromkeys(expected_speakers))]
    tts = manifests(store, "tts")[0]
    clips = store.get_json(tts["outputs"]["clips.json"]["key"])
    assert clips["voices"] == {speaker: f"voice-{i}" for i, speaker in enumerate(dict.fromkeys(expected_speakers))}
    assert [c["voice"] for c in clips["clips"]] == [clips["voices"][c["speaker"]] for c in clips["clips"]]
    assert tts["metrics"]["voices"] == len(clips["voices"])

    # files in --out, the report
    files = first.files["pt-BR"]
    assert files["video"].name == "short.pt-BR.mp4" and files["video"].is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [s["stage"] for s in report["stages"]] == list(STAGES)
    assert "did not fit" in (tmp_path / "out" / "report.txt").read_text()

    # the same job again: every stage is a cache hit, nothing recomputed
    calls = fakes.FakeSynthesizer.calls, fakes.FakeTranscriber.calls
    second = run(job, store, short_clip, tmp_path / "out2")
    assert all(o.cache_hit for o in second.outcomes), [(o.stage, o.cache_hit) for o in second.outcomes]
    assert (fakes.FakeSynthesizer.calls, fakes.FakeTranscriber.calls) == calls
    for stage in STAGES:
        assert len(manifests(store, stage)) == 1
        assert store.get_json(layout.job_index_key("local", "short", stage))["cacheHit"] is True
    assert (tmp_path / "out2" / "short.pt-BR.mp4").read_bytes() == files["video"].read_bytes()

    # only the target language changes: translate, tts, mix, mux and score are redone, nothing else
    job_en = make_job(short_clip.path, ["en"], "en", {"separate": {"backend": "none"}}, name="short")
    third = run(job_en, store, short_clip, tmp_path / "out3")
    redone = {o.stage for o in third.outcomes if not o.cache_hit}
    assert redone == LANGUAGE_STAGES
    for stage in STAGES:
        assert len(manifests(store, stage)) == (2 if stage in LANGUAGE_STAGES else 1)
    translate = {o.stage: o for o in third.outcomes}["translate"]
    assert translate.backend == "identity"  # same language: identity, whatever else is ready

    # a second target language next to the first: only the new one is computed
    job_both = make_job(short_clip.path, ["pt-BR", "en"], "en", {"separate": {"backend": "none"}}, name="short")
    fourth = run(job_both, store, short_clip, tmp_path / "out4")
    assert all(o.cache_hit for o in fourth.outcomes)
    assert set(fourth.files) == {"pt-BR", "en"}


def test_option_change_redoes_only_affected_stages(tmp_path, short_clip, fakes):
    fakes.FakeSynthesizer.seconds_per_char = 0.09  # some clips need a stretch (more than the lead before them gives)
    store = LocalStore(tmp_path / "store")
    base = {"separate": {"backend": "none"}}
    run(make_job(short_clip.path, ["pt-BR"], "en", base, name="opt"), store, short_clip)
    # a scheduling-only option changes nothing
    same = run(
        make_job(short_clip.path, ["pt-BR"], "en", {**base, "mux": {"timeoutSeconds": 99, "gpus": 0}}, name="opt"),
        store,
        short_clip,
    )
    assert all(o.cache_hit for o in same.outcomes)
    # a mix option redoes mix, and mux and score because their input (the mix) changed
    changed = run(
        make_job(short_clip.path, ["pt-BR"], "en", {**base, "mix": {"maxStretch": 1.05}}, name="opt"), store, short_clip
    )
    assert {o.stage for o in changed.outcomes if not o.cache_hit} == {"mix", "mux", "score"}
    # an option that changes the mix's work but not its output: mix redone, mux reused (content-addressed inputs)
    fakes.FakeSynthesizer.seconds_per_char = 0.09
    again = run(
        make_job(
            short_clip.path, ["pt-BR"], "en", {**base, "mix": {"maxStretch": 1.05, "duckDb": -12.0000001}}, name="opt"
        ),
        store,
        short_clip,
    )
    redone = {o.stage for o in again.outcomes if not o.cache_hit}
    assert "mix" in redone and redone <= {"mix", "mux", "score"}


def test_mix_time_fit_duration_and_loudness(tmp_path, short_clip, fakes):
    fakes.FakeSynthesizer.seconds_per_char = 0.09  # clips much longer than the segments
    store = LocalStore(tmp_path / "store")
    job = make_job(
        short_clip.path,
        ["pt-BR"],
        "en",
        {"separate": {"backend": "none"}, "mix": {"maxStretch": 1.2, "loudnessLufs": -20}},
        name="fit",
    )
    result = run(job, store, short_clip, tmp_path / "out")
    [manifest] = manifests(store, "mix")
    report = json.loads((Path(store.local_path(manifest["outputs"]["timefit.json"]["key"]))).read_text())
    placements = report["placements"]
    assert all(p["tempo"] <= 1.2 + 1e-9 for p in placements)  # never past the bound
    assert report["summary"]["tooLong"] >= 1 and manifest["metrics"]["notFitting"]
    dubbed = store.local_path(manifest["outputs"]["dubbed.wav"]["key"])
    info = sf.info(str(dubbed))
    assert info.channels == 2 and info.samplerate == 44100
    assert abs(info.frames / info.samplerate - short_clip.duration) < 0.05
    assert manifest["metrics"]["loudnessLufs"] == pytest.approx(-20, abs=1.0)
    text = (tmp_path / "out" / "report.txt").read_text()
    assert "did not fit (pt-BR): #" in text
    assert result.report["notFitting"]["pt-BR"]


def _level_db(samples, rate: int, spans) -> float:
    """RMS level (dBFS) of the samples inside the spans, all channels, together."""
    import numpy as np

    parts = [samples[int(a * rate) : int(b * rate)] for a, b in spans if b - a > 0.05]
    assert parts, "no span to measure"
    joined = np.concatenate(parts).astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(joined**2)) + 1e-12))


def test_without_separation_the_source_voices_leave_the_bed(tmp_path, short_clip, fakes):
    """separation none: the bed is the original, English voices included. By default (background auto =
    suppress) the bed where the source speaks must drop by 30 dB or more relative to the bed between
    speech; the old behaviour (duck, asked for explicitly) leaves the voices at their level."""
    fakes.FakeSynthesizer.seconds_per_char = 0.001  # 0.2 s clips: most of each source segment has no dub over it
    store = LocalStore(tmp_path / "store")
    drops = {}
    for background in ("auto", "duck"):
        name = f"bed-{background}"
        # a low loudness target keeps loudnorm linear (one gain for the whole track)
        job = make_job(
            short_clip.path,
            ["pt-BR"],
            "en",
            {"separate": {"backend": "none"}, "mix": {"background": background, "loudnessLufs": -30}},
            name=name,
        )
        run(job, store, short_clip)
        extract = store.get_json(layout.job_index_key("local", name, "extract"))["entries"][layout.NO_LANGUAGE]
        mix = store.get_json(layout.job_index_key("local", name, "mix"))["entries"]["pt-BR"]
        original, rate = sf.read(
            str(store.local_path(extract["outputs"]["audio.wav"]["key"])), dtype="float32", always_2d=True
        )
        dubbed, dubbed_rate = sf.read(
            str(store.local_path(mix["outputs"]["dubbed.wav"]["key"])), dtype="float32", always_2d=True
        )
        assert rate == dubbed_rate
        report = json.loads(Path(store.local_path(mix["outputs"]["timefit.json"]["key"])).read_text())
        assert (
            report["bed"]["mode"] == ("suppress" if background == "auto" else "duck")
            and report["bed"]["separation"] == "none"
        )
        ends = {p["id"]: p["end"] for p in report["placements"]}
        segments = short_clip.segments
        # source speech with no dub over it (after each 0.2 s clip and its duck ramp), and the pauses between speech
        speech = [(max(seg.start, ends[i] + 0.4), seg.end - 0.15) for i, seg in enumerate(segments)]
        pauses = [(a.end + 0.45, b.start - 0.3) for a, b in zip(segments, segments[1:], strict=False)]
        before = _level_db(original, rate, speech) - _level_db(original, rate, pauses)
        after = _level_db(dubbed, rate, speech) - _level_db(dubbed, rate, pauses)
        assert before > 25, f"the sample's speech should stand well above its bed ({before:.1f} dB)"
        drops[background] = before - after
    print("bed drop in source speech, dB:", {k: round(v, 1) for k, v in drops.items()})
    assert drops["auto"] >= 30.0, drops
    assert drops["duck"] < 6.0, drops  # the measurement tells the two apart


def test_mux_mkv_streams_and_languages(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(
        short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}, "mux": {"container": "mkv"}}, name="mkv"
    )
    result = run(job, store, short_clip, tmp_path / "out")
    video = result.files["pt-BR"]["video"]
    assert video.suffix == ".mkv"
    probe = ffprobe_streams(video)
    kinds = [
        (
            s["codec_type"],
            s.get("codec_name"),
            (s.get("tags") or {}).get("language", (s.get("tags") or {}).get("LANGUAGE")),
        )
        for s in probe["streams"]
    ]
    assert kinds[0][0] == "video"
    assert kinds[1] == ("audio", "aac", "por") and probe["streams"][1]["disposition"]["default"] == 1
    assert kinds[2] == ("audio", "aac", "eng")
    assert {(k[0], k[1], k[2]) for k in kinds[3:]} == {("subtitle", "subrip", "por"), ("subtitle", "subrip", "eng")}
    assert abs(float(probe["format"]["duration"]) - short_clip.duration) < 1.0
    for suffix in (".srt", ".vtt"):
        assert (tmp_path / "out" / f"mkv.pt-BR{suffix}").is_file()
        assert (tmp_path / "out" / f"mkv.en{suffix}").is_file()
    assert (tmp_path / "out" / "mkv.pt-BR.vtt").read_text().startswith("WEBVTT")


def test_audio_only_input(tmp_path, fakes, monkeypatch):
    from dubbing.samples import make_clip

    clip = make_clip(tmp_path / "talk.m4a", count=2, video=False)
    doubles.install(monkeypatch, clip)
    store = LocalStore(tmp_path / "store")
    result = run(
        make_job(
            clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}, "mux": {"subtitles": ["target"]}}, name="talk"
        ),
        store,
        clip,
        tmp_path / "out",
    )
    probe = ffprobe_streams(result.files["pt-BR"]["video"])
    kinds = [s["codec_type"] for s in probe["streams"]]
    assert kinds == ["audio", "audio", "subtitle"]
    assert abs(float(probe["format"]["duration"]) - clip.duration) < 1.0


def test_failure_leaves_no_complete_looking_output(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="boom")
    run(job, store, short_clip)  # a complete first run: the job's index exists for every stage
    fakes.FakeSynthesizer.fail_on = 2
    job2 = make_job(
        short_clip.path, ["en"], "en", {"separate": {"backend": "none"}, "tts": {"backend": "auto"}}, name="boom"
    )
    # en is identity-translated, then tts (the double) fails on its second clip
    doubles_tts = fakes.FakeSynthesizer
    with pytest.raises(RuntimeError, match="exploded"):
        run(job2, store, short_clip, tmp_path / "out")
    assert doubles_tts.calls >= 2
    # no manifest and no stray clip for the failed entry; this stage's and later stages' job index removed
    assert len(manifests(store, "tts")) == 1  # the pt-BR one from the first run only
    tts_dirs = {info.key.split("/")[2] for info in store.list("cache/tts/")}
    assert len(tts_dirs) == 1
    for stage in ("tts", "mix", "mux", "score"):
        assert not store.exists(layout.job_index_key("local", "boom", stage))
    assert store.exists(layout.job_index_key("local", "boom", "translate"))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.mp4"))


def test_crash_before_manifest_is_not_a_cache_hit(tmp_path, short_clip, fakes, monkeypatch):
    """Outputs uploaded but no manifest (the process died): the next run redoes the work."""
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="crash")
    ctx = StageContext(job, store, sink=quiet, input_path=short_clip.path)
    real_put_json = store.put_json

    def dying_put_json(key, value):
        if key.endswith("manifest.json"):
            raise KeyboardInterrupt  # as abrupt as it gets inside Python
        return real_put_json(key, value)

    monkeypatch.setattr(store, "put_json", dying_put_json)
    with pytest.raises(KeyboardInterrupt):
        run_stage("extract", ctx)
    assert manifests(store, "extract") == []
    assert list(store.list("cache/")) == []  # what was uploaded was removed
    monkeypatch.setattr(store, "put_json", real_put_json)
    # even if the uploads had stayed, without a manifest the entry is redone
    outcome = run_stage("extract", ctx)
    assert outcome.cache_hit is False
    # a manifest whose outputs vanished is not trusted either
    [manifest] = manifests(store, "extract")
    store.delete(manifest["outputs"]["audio.wav"]["key"])
    assert run_stage("extract", ctx).cache_hit is False
    ctx.close()


def test_stage_out_of_order_is_missing_input(tmp_path, short_clip):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", name="order")
    ctx = StageContext(job, store, sink=quiet, input_path=short_clip.path)
    with pytest.raises(StageFailure) as info:
        run_stage("asr", ctx)
    assert info.value.reason == "MissingInput" and info.value.exit_code == 1
    ctx.close()


def test_named_backend_not_ready_is_permanent(tmp_path, short_clip):
    store = LocalStore(tmp_path / "store")
    job = make_job(
        short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "demucs", "model": "no-such-model"}}, name="nodemucs"
    )
    ctx = StageContext(job, store, sink=quiet, input_path=short_clip.path)
    run_stage("extract", ctx)
    with pytest.raises(StageFailure) as info:
        run_stage("separate", ctx)
    assert info.value.reason == "BackendUnavailable" and info.value.exit_code == 2
    assert "demucs" in info.value.message
    ctx.close()


def test_input_url_is_refused_by_default_and_reaches_nothing(tmp_path, short_clip, monkeypatch):
    """URL inputs are off unless the cluster turns them on; turned on, an internal address (here
    loopback) is still refused unless its network is allowed. A listener sees no connection."""
    import socket

    from dubbing.stages.jobfile import parse_job

    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/talk.mp4"
    job = parse_job(
        {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"input": {"url": url}, "targetLanguages": ["pt-BR"]}}
    )
    try:
        for env in ({}, {"DUBBING_INPUT_URLS": "true"}):
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            ctx = StageContext(job, LocalStore(tmp_path / "store"), sink=quiet)
            with pytest.raises(StageFailure) as info:
                run_stage("extract", ctx)
            assert info.value.reason == "InputURLRefused" and info.value.exit_code == 2, info.value.message
            assert "127.0.0.1" not in info.value.message
            ctx.close()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected
    finally:
        listener.close()


def test_input_from_url(tmp_path, short_clip, monkeypatch):
    """spec.input.url: downloaded over HTTP; a 404 is a permanent InputNotFound."""
    import functools
    import http.server
    import threading

    from dubbing.stages.jobfile import parse_job

    monkeypatch.setenv("DUBBING_INPUT_URLS", "true")
    monkeypatch.setenv("DUBBING_INPUT_URL_ALLOW_NETWORKS", "127.0.0.1/32")  # a stand-in for a public server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(short_clip.path.parent))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        store = LocalStore(tmp_path / "store")

        def job(url: str):
            return parse_job(
                {
                    "metadata": {"name": "web", "namespace": "ns"},
                    "spec": {"input": {"url": url}, "targetLanguages": ["pt-BR"]},
                }
            )

        ctx = StageContext(job(f"{base}/{short_clip.path.name}"), store, sink=quiet)
        outcome = run_stage("extract", ctx)
        assert outcome.cache_hit is False
        index = store.get_json(layout.job_index_key("ns", "web", "extract"))
        assert index["input"]["source"].startswith("http://127.0.0.1:")
        assert index["input"]["sha256"] == __import__("hashlib").sha256(short_clip.path.read_bytes()).hexdigest()
        ctx.close()
        ctx = StageContext(job(f"{base}/missing.mp4"), store, sink=quiet)
        with pytest.raises(StageFailure) as info:
            run_stage("extract", ctx)
        assert info.value.reason == "InputNotFound" and info.value.exit_code == 2
        ctx.close()
    finally:
        server.shutdown()


def test_score_stage_records_what_it_could_not_measure_and_still_succeeds(tmp_path, short_clip, fakes):
    """The ASR the job names cannot run (its weights are absent): intelligibility says why; timing,
    voice, loudness and sync are measured all the same, and the summary says what is missing."""
    from dubbing.stages.score import scoring_asr_options

    store = LocalStore(tmp_path / "store")
    base = {"separate": {"backend": "none"}}
    first = run(make_job(short_clip.path, ["pt-BR"], "en", base, name="sc"), store, short_clip, tmp_path / "out")
    score = first.outcomes[-1]
    assert score.stage == "score" and score.outputs["pt-BR"]["report"] == "jobs/local/sc/outputs/pt-BR/scorecard.json"
    card = json.loads((tmp_path / "out" / "sc.pt-BR.scorecard.json").read_text())
    assert (
        card["summary"] == score.outputs["pt-BR"]["quality"] and card["intelligibility"]["asr"]["backend"] == "fake-asr"
    )
    assert store.exists(score.outputs["pt-BR"]["report"])

    # the same job, but the back-transcription asks for a named ASR backend and a model that is not there
    job = make_job(
        short_clip.path,
        ["pt-BR"],
        "en",
        {**base, "asr": {"backend": "faster-whisper"}, "score": {"asrModel": "absent-model"}},
        name="sc",
    )
    ctx = StageContext(job, store, sink=quiet, input_path=short_clip.path)
    assert scoring_asr_options(ctx)["model"] == "absent-model"
    outcome = run_stage("score", ctx)
    ctx.close()
    assert outcome.cache_hit is False  # another ASR identity: another cache key
    card = store.get_json(outcome.index["entries"]["pt-BR"]["outputs"]["scorecard.json"]["key"])
    assert (
        card["intelligibility"]["error"].startswith("ASR backend not ready:")
        and "absent-model" in card["intelligibility"]["error"]
    )
    assert "error" not in card["timing"] and "error" not in card["loudness"] and "error" not in card["voice"]
    quality = outcome.outputs["pt-BR"]["quality"]
    assert (
        quality["unmeasured"] == ["intelligibility"]
        and "wer" not in quality
        and quality["fitShare"] == card["timing"]["fitShare"]
    )
    assert quality["lufs"] == pytest.approx(-16.0, abs=1.0)
