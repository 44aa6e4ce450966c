"""``dubbing edit``: see and change a job's segments without the web UI.

- ``dubbing edit NAME --artifacts URL [--namespace NS] [--json]``: the job's segments as they
  are now (time, speaker, source text, each translation, locked), edits applied.
- ``dubbing edit NAME --artifacts URL --apply FILE [--replace]``: lay the edits document in
  FILE (``-`` for stdin) over the newest version and store the result as the next version;
  refused with every reason, and nothing stored, when it names unknown segments or
  languages, empties a text, or makes times overlap.  Run the job again (``dubbing run``
  with the same ``--name`` and ``--artifacts``, or ``spec.rerun`` for a DubbingJob) and only
  the stages the edit touches rerun.

An edits document::

    {"segments": {"3": {"translations": {"pt-BR": "Nova frase."}, "speaker": "S1", "locked": true},
                  "7": {"text": "Corrected source words."}}}

It may also merge and split segments (``"structure"``, done first, in order, under new ids):
``[{"op": "merge", "ids": [3, 4], "into": 12}, {"op": "split", "id": 7, "at": 31.2, "into": [13, 14]}]``
(docs/pipeline.md, "Editing segments").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .edits import EditsDocument, EditsError, apply_to_transcript, parse_document
from .segments import Transcript


def segment_rows(
    document: EditsDocument | None, transcript: Transcript, translations: dict[str, Transcript]
) -> list[dict[str, Any]]:
    """One row per segment, edits applied (pure)."""
    edits = document or EditsDocument()
    source = apply_to_transcript(transcript, edits)
    by_language = {
        language: {s.id: s.translation for s in apply_to_transcript(t, edits, language).segments}
        for language, t in translations.items()
    }
    rows = []
    for segment in source.segments:
        edit = edits.segments.get(segment.id)
        rows.append(
            {
                "id": segment.id,
                "start": segment.start,
                "end": segment.end,
                "speaker": segment.speaker,
                "text": segment.text,
                "translations": {language: found.get(segment.id) for language, found in by_language.items()},
                "edited": edit is not None,
                "locked": bool(edit and edit.locked),
            }
        )
    return rows


def edit_command(args: argparse.Namespace) -> int:
    from .artifacts import StoreError, open_store
    from .stages import editstore

    try:
        store = open_store(args.artifacts)
        transcript, translations = editstore.job_segments(store, args.namespace, args.name)
        if args.apply:
            text = sys.stdin.read() if args.apply == "-" else open(args.apply, encoding="utf-8").read()
            try:
                data = json.loads(text)
            except json.JSONDecodeError as error:
                raise EditsError([f"{args.apply} is not JSON: {error}"]) from None
            languages = list(translations) or list(args.language or [])
            saved = editstore.save(
                store,
                args.namespace,
                args.name,
                parse_document(data),
                transcript,
                languages,
                replace_all=args.replace,
                translations=translations,
            )
            print(
                f"edits version {saved.version} stored for {args.namespace}/{args.name} ({len(saved.segments)} segments edited)"
            )
            return 0
        rows = segment_rows(editstore.load(store, args.namespace, args.name), transcript, translations)
    except EditsError as error:
        sys.stderr.write("dubbing edit: refused:\n" + "".join(f"  - {reason}\n" for reason in error.reasons))
        return 2
    except (OSError, ValueError, StoreError) as error:
        sys.stderr.write(f"dubbing edit: {error}\n")
        return 1
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        flags = ("*" if row["edited"] else " ") + ("L" if row["locked"] else " ")
        print(f"{row['id']:>4} {flags} {row['start']:8.2f}-{row['end']:<8.2f} {row['speaker']:<6} {row['text']}")
        for language, translation in row["translations"].items():
            print(f"{'':>25}{language:<6} {translation}")
    return 0


def add_parser(sub: Any) -> None:
    edit = sub.add_parser("edit", help="show a job's segments, or store an edits document for it")
    edit.add_argument("name", help="the job's name (dubbing run: --name, or the input's file name)")
    edit.add_argument(
        "--artifacts",
        help="the artifact store URL the job uses (default: $DUBBING_ARTIFACTS; dubbing run: <out>/.artifacts)",
    )
    edit.add_argument("--namespace", default="local", help="the job's namespace (dubbing run: local)")
    edit.add_argument(
        "--apply", metavar="FILE", help="an edits document (JSON; - for stdin) to store as the next version"
    )
    edit.add_argument(
        "--replace", action="store_true", help="with --apply: replace the newest version instead of merging"
    )
    edit.add_argument("--language", action="append", help="target languages, when the job has not translated yet")
    edit.add_argument("--json", action="store_true", help="the segments as JSON")
    edit.set_defaults(handler=edit_command)
