#!/usr/bin/env python3
"""Generate charts/dubbing/README.md from Chart.yaml and the comments in values.yaml.

    python tools/gen_chart_readme.py           # rewrite the README
    python tools/gen_chart_readme.py --check   # exit 1 if it is stale or a value is undocumented

The comment convention is helm-docs' (https://github.com/norwoodj/helm-docs):

    # -- What the value does; the description may go on
    # over several comment lines, up to the key.
    key: value

- `# -- (type) ...` overrides the type shown (otherwise string, int, float, bool, list or object,
  from the default value).
- `# @default -- text` (a line of the same comment) replaces the default shown.
- Comment lines above the `# --` line are ordinary comments and are left out.
- A `# --` comment on a non-empty mapping describes it as a whole (say `resources`): it is one row
  with the whole mapping as its default, and its keys are not listed. A mapping without one is a
  group: each of its keys is listed and needs its own description.

Every value must end up in a row: a key that needs a description and has none, a description
inside a mapping described as a whole, and a `# --` comment that describes no key are errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "dubbing"
SCRIPT = "tools/gen_chart_readme.py"

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.-]*)\s*:(\s|$)")
TYPE = re.compile(r"^\((?P<type>[^)]+)\)\s*")
DEFAULT = re.compile(r"^@default\s+--\s*(?P<text>.*)$")


@dataclass
class Doc:
    line: int
    description: str
    type: str | None = None
    default: str | None = None


@dataclass
class Row:
    key: str
    type: str
    default: str
    description: str


def _comment_doc(comments: list[tuple[int, str]]) -> Doc | None:
    """The `# --` part of the comment lines right above a key, or None."""
    starts = [i for i, (_, text) in enumerate(comments) if text == "--" or text.startswith("-- ")]
    if not starts:
        return None
    start = starts[-1]
    line, first = comments[start]
    words, default = [first[2:].strip()], None
    for _, text in comments[start + 1 :]:
        m = DEFAULT.match(text)
        if m:
            default = m["text"].strip()
        else:
            words.append(text)
    description = " ".join(w for w in words if w)
    m = TYPE.match(description)
    type_ = None
    if m:
        type_, description = m["type"].strip(), description[m.end() :]
    return Doc(line, description, type_, default)


def parse_comments(text: str, values: Any) -> tuple[dict[tuple[str, ...], Doc], dict[tuple[str, ...], int], list[str]]:
    """Descriptions and line numbers by key path, and the `# --` comments that describe no key."""
    docs: dict[tuple[str, ...], Doc] = {}
    lines: dict[tuple[str, ...], int] = {}
    errors: list[str] = []
    stack: list[tuple[int, str]] = []
    comments: list[tuple[int, str]] = []

    def drop_comments() -> None:
        if any(t == "--" or t.startswith("-- ") for _, t in comments):
            errors.append(f"{comments[0][0]}: a `# --` comment that describes no key")
        comments.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            comments.append((number, stripped[1:].strip()))
            continue
        m = KEY.match(raw)
        if not stripped or not m:
            drop_comments()
            continue
        indent, key = len(m["indent"]), m["key"]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = tuple(k for _, k in stack) + (key,)
        node = values
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or key not in node:
            drop_comments()  # a key inside a list item or a flow value, not a value of its own
            continue
        stack.append((indent, key))
        lines[path] = number
        doc = _comment_doc(comments)
        comments.clear()
        if doc is not None:
            docs[path] = doc
    drop_comments()
    return docs, lines, errors


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "string"


def values_rows(text: str) -> tuple[list[Row], list[str]]:
    """One row per documented value, in the file's order, and what keeps the table from being complete
    (as "<line>: <problem>")."""
    values = yaml.safe_load(text) or {}
    docs, lines, errors = parse_comments(text, values)
    rows: list[Row] = []

    def walk(node: dict, path: tuple[str, ...]) -> None:
        for key, value in node.items():
            here = path + (key,)
            doc = docs.get(here)
            if isinstance(value, dict) and value and doc is None:
                walk(value, here)
                continue
            name = ".".join(here)
            if doc is None:
                errors.append(f"{lines.get(here, 0)}: {name} has no `# --` description")
                continue
            if not doc.description:
                errors.append(f"{doc.line}: {name} has an empty description")
            if isinstance(value, dict):
                for inner in docs:
                    if len(inner) > len(here) and inner[: len(here)] == here:
                        errors.append(
                            f"{docs[inner].line}: {'.'.join(inner)} is described, but "
                            f"{name} is described as a whole (describe one or the other)"
                        )
            default = doc.default if doc.default is not None else f"`{json.dumps(value, ensure_ascii=False)}`"
            rows.append(Row(name, doc.type or _type(value), default, doc.description))

    walk(values, ())
    return rows, sorted(errors, key=lambda e: int(e.split(":")[0]))


def _cell(text: str) -> str:
    """Text for a table cell: `|` escaped, and `<`/`>` outside code spans kept from reading as HTML."""
    parts = text.replace("|", "\\|").split("`")
    parts[::2] = [p.replace("<", "&lt;").replace(">", "&gt;") for p in parts[::2]]
    return "`".join(parts)


def render(chart: Path = CHART) -> tuple[str, list[str]]:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    rows, errors = values_rows((chart / "values.yaml").read_text())
    out = [
        f"# {meta['name']}",
        "",
        f"<!-- Generated by {SCRIPT} from Chart.yaml and the `# --` comments in values.yaml:",
        "     edit those, then run the script. CI fails when this file is stale. -->",
        "",
        meta.get("description", ""),
        "",
        f"Chart version {meta['version']}, app version {meta['appVersion']}"
        + (f", Kubernetes {meta['kubeVersion']}" if meta.get("kubeVersion") else "")
        + ".",
        "",
        "## Installing",
        "",
        "```sh",
        f"helm install {meta['name']} charts/{chart.name} --namespace {meta['name']} --create-namespace",
        "```",
        "",
        "This installs the CRD, the operator, the web UI, a model-cache volume and a bundled MinIO and Redis.",
        "docs/install.md in the source repository"
        + (f" ({meta['home']})" if meta.get("home") else "")
        + " covers the cluster's prerequisites (GPU nodes, storage), images, external services and upgrades.",
        "",
        "## Values",
        "",
        "values.schema.json checks them at install: an unknown key or a value of the wrong type or range is",
        "refused before anything is applied.",
        "",
        "| Key | Type | Default | Description |",
        "|-----|------|---------|-------------|",
    ]
    out += [f"| `{r.key}` | {_cell(r.type)} | {_cell(r.default)} | {_cell(r.description)} |" for r in rows]
    return "\n".join(out) + "\n", errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale or a value is undocumented")
    parser.add_argument("--chart", type=Path, default=CHART, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    text, errors = render(opts.chart)
    target = opts.chart / "README.md"
    for error in errors:
        print(f"{opts.chart / 'values.yaml'}:{error}", file=sys.stderr)
    if errors:
        return 1
    if opts.check:
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is stale: run python {SCRIPT}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
