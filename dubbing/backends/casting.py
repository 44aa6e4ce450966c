"""Which stock voice each speaker gets (pure functions).

Every TTS backend with several voices (Kokoro's voices of a language, espeak-ng's variants,
the speakers of a multi-speaker Piper model) casts through :func:`distinct_cast`: speakers in
the order they first speak, the voices the job names (``spec.voices``) first and counted as
taken, then for each other speaker the next voice nobody has yet, of their voice's register
where that is known (``low`` → male voices, ``high`` → female ones).  Two speakers share a
voice only when there are more speakers than voices; then the least-used voices are given
again, in the same preference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: espeak-ng's variants (``-v pt-br+f3``), best first: files ``!v/f1``…``!v/f5``, ``!v/m1``…``!v/m8``.
ESPEAK_FEMALE = ("f3", "f1", "f4", "f2", "f5")
ESPEAK_MALE = ("m1", "m3", "m7", "m2", "m4", "m5", "m6", "m8")


def alternate(female: Sequence[str], male: Sequence[str]) -> tuple[str, ...]:
    """Female and male voices alternating, female first, then what is left of the longer list."""
    out: list[str] = []
    for index in range(max(len(female), len(male))):
        out += [voices[index] for voices in (female, male) if index < len(voices)]
    return tuple(out)


def distinct_cast(
    speakers: Sequence[str],
    order: Sequence[str],
    fixed: Mapping[str, str] | None = None,
    pitches: Mapping[str, str] | None = None,
    registers: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Speaker → voice for every speaker in ``speakers`` (and every one in ``fixed``).

    ``fixed``: the voices the job names for some speakers (kept as they are, and taken);
    ``order``: the backend's voices, best first; ``pitches``: speaker → ``low``/``high`` where
    told; ``registers``: ``low``/``high`` → the voices of that register.  No voice is given
    twice while one of ``order`` is left."""
    fixed = dict(fixed or {})
    if not order and any(speaker not in fixed for speaker in speakers):
        raise ValueError("no voices to cast")
    pitches, registers = pitches or {}, registers or {}
    used: dict[str, int] = {}
    for voice in fixed.values():
        used[voice] = used.get(voice, 0) + 1
    chosen: dict[str, str] = dict(fixed)
    for speaker in dict.fromkeys(speakers):
        if speaker in chosen:
            continue
        preferred = [voice for voice in registers.get(pitches.get(speaker, ""), ()) if voice in order]
        candidates = preferred + [voice for voice in order if voice not in preferred]
        fewest = min(used.get(voice, 0) for voice in order)
        # The preferred register's voices first while any of them is as little used as the least-used voice.
        voice = next(voice for voice in candidates if used.get(voice, 0) == fewest)
        used[voice] = used.get(voice, 0) + 1
        chosen[speaker] = voice
    return chosen


def espeak_variants(listing: str) -> frozenset[str]:
    """The variant names in ``espeak-ng --voices=variant`` output (its file column ``!v/<name>``)."""
    names = set()
    for line in listing.splitlines()[1:]:
        for field in line.split():
            if field.startswith("!v/"):
                names.add(field[3:])
    return frozenset(names)


def espeak_order(installed: frozenset[str]) -> tuple[str, ...]:
    """The espeak-ng variants to cast from, female and male alternating, those installed only."""
    return alternate(
        [name for name in ESPEAK_FEMALE if name in installed], [name for name in ESPEAK_MALE if name in installed]
    )


def piper_speakers(config: Mapping[str, object]) -> tuple[str, ...]:
    """A Piper voice config's speakers (``speaker_id_map``), by id; () for a single-speaker voice."""
    table = config.get("speaker_id_map")
    if not isinstance(table, Mapping) or len(table) < 2:
        return ()
    return tuple(name for name, _ in sorted(table.items(), key=lambda item: (int(item[1]), str(item[0]))))


def unknown_voices(wanted: Sequence[str], available: Sequence[str] | frozenset[str]) -> list[str]:
    """The names in ``wanted`` the backend does not have, in order, each once."""
    have = set(available)
    return [name for name in dict.fromkeys(wanted) if name not in have]


#: The tts backends' option carrying the job's ``spec.voices`` (speaker → {voice|library|clone}).
VOICES_OPTION = "voices"


def named_voices(options: Mapping[str, object]) -> dict[str, str]:
    """Speaker → backend voice name, from the job's mapping in the backend options."""
    mapping = options.get(VOICES_OPTION)
    if not isinstance(mapping, Mapping):
        return {}
    out: dict[str, str] = {}
    for speaker, choice in mapping.items():
        if isinstance(choice, Mapping) and choice.get("voice"):
            out[str(speaker)] = str(choice["voice"])
    return out
