"""The time-fit's further steps on real media: a faster reading before the stretch, and the
slowed video (``mix.fit: slowVideo``) muxed by a real ffmpeg, video and audio still in sync."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dubbing.artifacts import LocalStore
from dubbing.samples import SampleClip
from dubbing.stages import layout, retime
from dubbing.stages.pipeline import make_job, run_pipeline

from . import doubles


def quiet(stage, percent, message):
    pass


def entry(store: LocalStore, name: str, stage: str, language: str = "pt-BR") -> dict:
    return store.get_json(layout.job_index_key("local", name, stage))["entries"][language]


def read_json(store: LocalStore, ref: dict) -> dict:
    return json.loads(Path(store.local_path(ref["key"])).read_text())


@pytest.fixture
def fakes(monkeypatch, short_clip):
    doubles.install(monkeypatch, short_clip)
    return doubles


def fit_run(store: LocalStore, clip: SampleClip, name: str, stages: dict) -> tuple[dict, dict]:
    job = make_job(clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}, **stages}, name=name)
    run_pipeline(job, store, clip.path, None, sink=quiet)
    clips = read_json(store, entry(store, name, "tts")["outputs"]["clips.json"])
    timefit = read_json(store, entry(store, name, "mix")["outputs"]["timefit.json"])
    return clips, timefit


def test_a_backend_with_a_rate_control_reads_long_lines_faster_before_the_mix_stretches(tmp_path, short_clip, fakes):
    fakes.FakeSynthesizer.seconds_per_char = 0.075  # lines somewhat longer than their segments
    store = LocalStore(tmp_path / "store")
    mix = {"mix": {"maxStretch": 1.2}}
    _, plain = fit_run(store, short_clip, "plain", mix)
    assert set(fakes.FakeSynthesizer.rates_seen) == {1.0}  # no rate control: never asked for another rate
    assert max(p["stretch"] for p in plain["placements"]) > 1.0  # the mix had to stretch

    fakes.FakeSynthesizer.rate_control = "secondsPerChar"
    clips, faster = fit_run(store, short_clip, "faster", {**mix, "tts": {"maxRate": 1.25}})
    read = [c for c in clips["clips"] if c["rate"] > 1.0]
    assert read and all(c["rate"] <= 1.25 for c in read)
    for clip in read:  # the double's length is exactly inversely proportional to the rate
        assert clip["seconds"] == pytest.approx(clip["normalSeconds"] / clip["rate"], abs=2e-3)
    placed = {p["id"]: p for p in faster["placements"]}
    for clip in read:
        p = placed[clip["id"]]
        assert p["rate"] == clip["rate"] and p["videoSlowdown"] == 1.0
        if clip["rate"] < 1.25:  # the faster reading alone made it fit: no stretch on top
            assert p["stretch"] == 1.0 and p["residualOverrunSeconds"] == 0.0
    assert faster["summary"]["readFaster"] == len(read) and faster["summary"]["maxRate"] == max(c["rate"] for c in read)
    assert max(p["stretch"] for p in faster["placements"]) < max(p["stretch"] for p in plain["placements"])
    assert faster["summary"]["inSlotShare"] >= plain["summary"]["inSlotShare"]
    # the scorecard carries what each segment needed
    card = read_json(store, entry(store, "faster", "score")["outputs"]["scorecard.json"])
    rows = {row["id"]: row for row in card["timing"]["placements"]}
    assert all(rows[c["id"]]["rate"] == c["rate"] for c in read)
    assert card["timing"]["readFaster"] == len(read)


# --- slowVideo --------------------------------------------------------------------------------

FLASH_SECONDS = 0.12
PROBE_FPS = 100


def flash_clip(source: SampleClip, out: Path) -> tuple[SampleClip, list[float]]:
    """The sample's audio under a black video that flashes white every second (at k + 0.5 s)."""
    flashes = [k + 0.5 for k in range(int(source.duration - 0.6))]
    enable = "+".join(f"between(t,{f:.3f},{f + FLASH_SECONDS:.3f})" for f in flashes)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"color=black:size=64x48:rate=25:duration={source.duration:.3f}", "-i", str(source.path),
         "-filter_complex", f"[0:v]drawbox=enable='{enable}':color=white:t=fill[v]",
         "-map", "[v]", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(out)],
        check=True,
    )  # fmt: skip
    return SampleClip(out, source.duration, source.segments), flashes


def video_flashes(path: Path) -> list[float]:
    """Times (s) where the video turns white, sampled at 100 frames per second."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-vf", f"fps={PROBE_FPS},scale=8:8,format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    bright = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 64).mean(axis=1) > 128
    rising = np.flatnonzero(bright[1:] & ~bright[:-1]) + 1
    return [float(i) / PROBE_FPS for i in rising]


def audio_onsets(path: Path, stream: str, near: list[float]) -> list[float]:
    """Per time in ``near``: the first 10 ms frame within 0.4 s of it where the stream's level
    rises above a tenth of its loud frames (the speech onset)."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", stream, "-ac", "1", "-ar", "16000",
         "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(raw, dtype=np.float32)
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    level = np.sqrt((frames**2).mean(axis=1))
    loud = 0.1 * np.percentile(level, 95)
    onsets = []
    for t in near:
        a, b = max(0, int((t - 0.4) * 100)), int((t + 0.4) * 100)
        above = np.flatnonzero(level[a:b] > loud)
        onsets.append((a + int(above[0])) / 100 if above.size else float("nan"))
    return onsets


def test_slow_video_lengthens_the_span_and_keeps_picture_sound_and_subtitles_together(tmp_path, short_clip, fakes):
    clip, flashes = flash_clip(short_clip, tmp_path / "flash.mp4")
    fakes.FakeSynthesizer.seconds_per_char = 0.13  # lines much longer than their segments
    store = LocalStore(tmp_path / "store")
    stages = {"mix": {"maxStretch": 1.1, "fit": "slowVideo", "maxSlowdown": 2.0}}
    _, fitted = fit_run(store, clip, "slow", stages)
    retiming = retime.from_dict(fitted["retime"])
    assert retiming.spans, "the long lines should have slowed the video somewhere"
    added = sum(span.extra for span in retiming.spans)
    assert retiming.source_duration == pytest.approx(clip.duration, abs=0.1)  # the probe's, the container's
    assert fitted["durationSeconds"] == pytest.approx(retiming.source_duration + added, abs=1e-3)
    slowed = [p for p in fitted["placements"] if p["videoSlowdown"] > 1.0]
    assert slowed and fitted["summary"]["videoSlowed"] == len(slowed)
    mux = entry(store, "slow", "mux")
    video = Path(store.local_path(mux["outputs"]["dubbed.mp4"]["key"]))
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(video)],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    # the output is longer by the slowed spans' extra seconds (within two frames)
    assert float(probe["format"]["duration"]) == pytest.approx(retiming.source_duration + added, abs=0.08)
    assert mux["metrics"]["slowedSpans"] == len(retiming.spans)
    # every flash shows where the retiming puts it (within two 25 fps frames) ...
    seen = video_flashes(video)
    expected = [retiming.to_output(f) for f in flashes]
    assert len(seen) == len(expected)
    assert np.max(np.abs(np.array(seen) - np.array(expected))) < 0.08, (seen, expected)
    # ... and the original audio's speech starts where the retiming puts it (the same detector on the input)
    before = audio_onsets(clip.path, "0:a:0", [s.start for s in clip.segments])
    starts = [retiming.to_output(t) for t in before]
    onsets = audio_onsets(video, "0:a:1", starts)
    error = np.abs(np.array(onsets) - np.array(starts))
    assert not np.isnan(error).any() and error.max() < 0.05, (onsets, starts)
    print(
        f"\nslowVideo: {len(retiming.spans)} spans, +{added:.2f} s; flash error max "
        f"{np.max(np.abs(np.array(seen) - np.array(expected))):.3f} s, speech onset error max {error.max():.3f} s"
    )
    # the subtitles moved with them
    cues = (Path(store.local_path(mux["outputs"]["source.srt"]["key"]))).read_text()
    last = clip.segments[-1].start
    moved = retiming.to_output(last)
    assert moved > last + 0.05
    stamp = f"{int(moved // 3600):02d}:{int(moved % 3600 // 60):02d}:{int(moved % 60):02d},{int(round(moved % 1 * 1000)):03d}"
    assert stamp[:-1] in cues  # to the hundredth


def test_slow_video_with_several_languages_is_refused() -> None:
    from pydantic import ValidationError

    from dubbing.api.v1alpha1 import DubbingJobSpec

    spec = {"input": {"url": "https://example.com/a.mp4"}, "stages": {"mix": {"fit": "slowVideo"}}}
    assert DubbingJobSpec.model_validate({**spec, "targetLanguages": ["pt-BR"]}).stages.mix.fit == "slowVideo"
    with pytest.raises(ValidationError, match="slowVideo needs a single target language"):
        DubbingJobSpec.model_validate({**spec, "targetLanguages": ["pt-BR", "es"]})
    assert DubbingJobSpec.model_validate({**spec, "stages": {}, "targetLanguages": ["pt-BR", "es"]})
