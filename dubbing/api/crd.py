"""Generate the DubbingJob CustomResourceDefinition from the Pydantic models.

    python -m dubbing.api.crd            # print the CRD YAML
    python -m dubbing.api.crd --write    # write crds/ (and the chart's copy, if the chart exists)
    python -m dubbing.api.crd --check    # exit 1 if a committed copy differs from the models

The conversion turns Pydantic's JSON Schema into a *structural* OpenAPI v3 schema
as the API server wants it: references inlined, ``Optional`` unwrapped,
``Literal`` as ``enum``, titles dropped, Kubernetes extensions kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from . import v1alpha1

_DROP_KEYS = {"title", "additionalProperties", "discriminator"}
REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FILENAME = f"{v1alpha1.GROUP}_{v1alpha1.PLURAL}.yaml"
CRD_PATHS = (REPO_ROOT / "crds" / CRD_FILENAME, REPO_ROOT / "charts" / "dubbing" / "crds" / CRD_FILENAME)


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline ``$ref``s recursively."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, defs)
        return {key: _resolve(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    return node


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def to_structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Make one (already inlined) JSON Schema node structural, recursively."""
    node = dict(schema)
    for variants in ("anyOf", "oneOf"):
        if variants in node:
            options = [option for option in node.pop(variants) if not _is_null(option)]
            if node.get("x-kubernetes-int-or-string"):
                node.pop("pattern", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
                continue
            if len(options) != 1:
                raise ValueError(f"cannot express a union of {len(options)} types in a structural schema: {options}")
            outer = {key: value for key, value in node.items() if key != "default" or value is not None}
            node = {**to_structural(options[0]), **outer}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", 0) is None:
        node.pop("default")
    if isinstance(node.get("default"), dict):
        node.pop("default")  # objects are defaulted field by field
    for key in _DROP_KEYS:
        if key in node and not (
            key == "additionalProperties" and "properties" not in node and node.get("type") == "object"
        ):
            node.pop(key)
    if "properties" in node:
        node["type"] = "object"
        node["properties"] = {name: to_structural(prop) for name, prop in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = to_structural(node["additionalProperties"])
    elif node.get("additionalProperties") is True:
        node.pop("additionalProperties")
        node["x-kubernetes-preserve-unknown-fields"] = True
    if "items" in node:
        node["items"] = to_structural(node["items"])
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    return node


def openapi_schema(model: type) -> dict[str, Any]:
    raw = model.model_json_schema(mode="validation")  # type: ignore[attr-defined]
    defs = raw.pop("$defs", {})
    return to_structural(_resolve(raw, defs))


def build_crd() -> dict[str, Any]:
    spec_schema = openapi_schema(v1alpha1.DubbingJobSpec)
    status_schema = openapi_schema(v1alpha1.DubbingJobStatus)
    spec_schema["description"] = "What to dub, into which languages, and how."
    status_schema["description"] = "What the operator observed; written through the status subresource only."
    root = {
        "type": "object",
        "description": "A DubbingJob dubs one input video or audio into one or more target languages.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{v1alpha1.PLURAL}.{v1alpha1.GROUP}",
            "labels": {"app.kubernetes.io/name": "dubbing", "app.kubernetes.io/part-of": "dubbing"},
        },
        "spec": {
            "group": v1alpha1.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": v1alpha1.KIND,
                "listKind": f"{v1alpha1.KIND}List",
                "plural": v1alpha1.PLURAL,
                "singular": v1alpha1.SINGULAR,
                "shortNames": list(v1alpha1.SHORT_NAMES),
                "categories": list(v1alpha1.CATEGORIES),
            },
            "versions": [
                {
                    "name": v1alpha1.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Stage", "type": "string", "jsonPath": ".status.currentStage"},
                        {
                            "name": "Progress",
                            "type": "string",
                            "jsonPath": ".status.progress",
                            "description": "percent",
                        },
                        {"name": "Queue", "type": "integer", "jsonPath": ".status.queuePosition", "priority": 1},
                        {"name": "Targets", "type": "string", "jsonPath": ".spec.targetLanguages", "priority": 1},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render() -> str:
    header = "# Generated by `python -m dubbing.api.crd --write` from dubbing/api/v1alpha1.py. Do not edit.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the CRD files")
    group.add_argument("--check", action="store_true", help="fail if the committed CRD files are stale")
    args = parser.parse_args(argv)
    text = render()
    targets = [path for path in CRD_PATHS if path.parent.parent.exists()]
    if args.write:
        for path in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    if args.check:
        stale = [path for path in targets if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"stale: {path.relative_to(REPO_ROOT)} (run: python -m dubbing.api.crd --write)", file=sys.stderr)
        return 1 if stale else 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
