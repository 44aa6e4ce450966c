"""``dubbing voices``: the user's voice library on the command line.

- ``dubbing voices list``: the voices (id, name, speaker and job they came from);
- ``dubbing voices save JOB SPEAKER --name NAME --consent NOTE``: keep a speaker of a finished
  job (their cleanest speech, and XTTS latents when the job made them);
- ``dubbing voices rename ID NAME``, ``dubbing voices delete ID``, ``dubbing voices show ID``.

Every command takes ``--artifacts URL`` (default ``$DUBBING_ARTIFACTS``; ``dubbing run``
keeps its store in ``<out>/.artifacts``) and ``--owner`` (default ``local``, the owner of the
jobs ``dubbing run`` makes).  A job uses a saved voice with ``dubbing run --voice S0=library:ID``
(or ``spec.voices`` of a DubbingJob).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: The owner of the jobs ``dubbing run`` makes (their namespace).
LOCAL_OWNER = "local"


def parse_voice_choices(items: list[str]) -> dict[str, dict[str, Any]]:
    """``S0=voice:pf_dora``, ``S1=library:v-1a2b``, ``S2=clone`` → the ``spec.voices`` mapping (pure)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        speaker, sep, choice = item.partition("=")
        kind, _, value = choice.partition(":")
        if not sep or not speaker:
            raise ValueError(f"--voice {item!r}: expected SPEAKER=voice:NAME, SPEAKER=library:ID or SPEAKER=clone")
        if speaker in out:
            raise ValueError(f"--voice: speaker {speaker} given twice")
        if kind == "clone" and not value:
            out[speaker] = {"clone": True}
        elif kind in ("voice", "library") and value:
            out[speaker] = {kind: value}
        else:
            raise ValueError(f"--voice {item!r}: expected SPEAKER=voice:NAME, SPEAKER=library:ID or SPEAKER=clone")
    return out


def voices_command(args: argparse.Namespace) -> int:
    from ..artifacts import StoreError, open_store
    from .fromjob import save_from_job
    from .library import VoiceError, VoiceLibrary, describe

    try:
        store = open_store(args.artifacts)
        library = VoiceLibrary(store, args.owner)
        action = args.voices_command
        if action == "list":
            voices = library.list()
            if args.json:
                print(json.dumps([voice.as_dict() for voice in voices], indent=2, ensure_ascii=False))
            else:
                for voice in voices:
                    print(describe(voice))
                if not voices:
                    print(f"no voices in {args.owner}'s library")
            return 0
        if action == "save":
            voice = save_from_job(store, args.owner, args.namespace, args.job, args.speaker, args.name, args.consent)
        elif action == "rename":
            voice = library.rename(args.id, args.name)
        elif action == "delete":
            voice = library.delete(args.id)
            print(f"deleted {voice.id} ({voice.name!r})")
            return 0
        else:
            voice = library.get(args.id)
        print(json.dumps(voice.as_dict(), indent=2, ensure_ascii=False) if args.json else describe(voice))
        return 0
    except VoiceError as error:
        sys.stderr.write(f"dubbing voices: {error.reason}: {error}\n")
        return 2
    except (StoreError, ValueError) as error:
        sys.stderr.write(f"dubbing voices: {error}\n")
        return 2


def add_parser(sub: Any) -> None:
    voices = sub.add_parser("voices", help="the voice library: list, save from a job, rename, delete")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--artifacts", help="the artifact store URL (default: $DUBBING_ARTIFACTS)")
    common.add_argument("--owner", default=LOCAL_OWNER, help=f"whose library (default: {LOCAL_OWNER})")
    common.add_argument("--json", action="store_true")
    actions = voices.add_subparsers(dest="voices_command", required=True)
    actions.add_parser("list", parents=[common], help="the voices")
    save = actions.add_parser("save", parents=[common], help="keep a speaker of a finished job")
    save.add_argument("job", help="the job's name")
    save.add_argument("speaker", help="the speaker label (S0, S1, ...)")
    save.add_argument("--name", required=True, help="a name for the voice")
    save.add_argument("--consent", required=True, help="who agreed to this voice being kept, and how")
    save.add_argument("--namespace", default="local", help="the job's namespace (dubbing run: local)")
    rename = actions.add_parser("rename", parents=[common], help="give a voice a new name")
    rename.add_argument("id")
    rename.add_argument("name")
    delete = actions.add_parser("delete", parents=[common], help="remove a voice")
    delete.add_argument("id")
    show = actions.add_parser("show", parents=[common], help="one voice's details")
    show.add_argument("id")
    voices.set_defaults(handler=voices_command)
