"""Container environment resolution, as a kubelet does it (pure functions).

Order follows the kubelet: `envFrom` sources in order, then `env` entries, later
ones winning; `$(VAR)` references in env values, command and args expand against
what is defined so far, `$$` escapes a literal `$`, unknown references stay as they are.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

Lookup = Callable[[str, str], "dict[str, Any] | None"]
"""(namespace, name) -> the Secret or ConfigMap object, or None when it does not exist."""

ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SUFFIX: dict[str, int | Fraction] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


class ConfigError(Exception):
    """The container cannot be configured yet (CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand `$(NAME)` from env; `$$` is a literal `$`; unknown references are kept."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env[name] if name in env else text[i : end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_quantity(text: str) -> Fraction:
    match = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)", str(text).strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    return Fraction(match.group(1)) * _SUFFIX[match.group(2)]


def object_data(obj: Mapping[str, Any]) -> dict[str, str]:
    """Key -> text of a Secret (base64 `data`, `stringData`) or ConfigMap (`data`, `binaryData`)."""
    out: dict[str, str] = {}
    is_secret = obj.get("kind") == "Secret" or "type" in obj
    for key, value in (obj.get("binaryData") or {}).items():
        out[key] = base64.b64decode(value).decode("utf-8", errors="replace")
    for key, value in (obj.get("data") or {}).items():
        out[key] = base64.b64decode(value).decode("utf-8", errors="replace") if is_secret else value
    for key, value in (obj.get("stringData") or {}).items():
        out[key] = value
    return out


def field_value(path: str, pod: Mapping[str, Any], node_name: str, pod_ip: str) -> str:
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName") or node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": pod_ip,
        "status.hostIPs": pod_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def resource_value(ref: Mapping[str, Any], container: Mapping[str, Any], node_alloc: Mapping[str, str]) -> str:
    kind, _, name = ref["resource"].partition(".")
    res = container.get("resources") or {}
    raw = (res.get(kind) or {}).get(name) or (res.get("limits") or {}).get(name) or node_alloc.get(name)
    if raw is None:
        raise ConfigError(f"no value for resourceFieldRef {ref['resource']!r}")
    divisor = parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(parse_quantity(raw) / divisor))


def resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    *,
    secrets: Lookup,
    configmaps: Lookup,
    node_name: str,
    pod_ip: str = "127.0.0.1",
    node_allocatable: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables a container's process gets from its spec (no base environment)."""
    namespace = pod.get("metadata", {}).get("namespace", "default")
    env: dict[str, str] = {}

    def fetch(lookup: Lookup, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = lookup(namespace, name)
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'{kind.lower()} "{name}" not found')
        return object_data(obj)

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, kind, lookup in (("secretRef", "Secret", secrets), ("configMapRef", "ConfigMap", configmaps)):
            ref = source.get(key)
            if ref is None:
                continue
            data = fetch(lookup, kind, ref.get("name", ""), bool(ref.get("optional")))
            for name, value in (data or {}).items():
                if ENV_NAME.match(prefix + name):
                    env[prefix + name] = value

    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry or "valueFrom" not in entry:
            env[name] = expand(entry.get("value", "") or "", env)
            continue
        source = entry["valueFrom"]
        if "secretKeyRef" in source or "configMapKeyRef" in source:
            is_secret = "secretKeyRef" in source
            ref = source["secretKeyRef" if is_secret else "configMapKeyRef"]
            kind = "Secret" if is_secret else "ConfigMap"
            optional = bool(ref.get("optional"))
            data = fetch(secrets if is_secret else configmaps, kind, ref.get("name", ""), optional)
            if data is None:
                continue
            if ref["key"] not in data:
                if optional:
                    continue
                raise ConfigError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref.get('name', '')}")
            env[name] = data[ref["key"]]
        elif "fieldRef" in source:
            env[name] = field_value(source["fieldRef"]["fieldPath"], pod, node_name, pod_ip)
        elif "resourceFieldRef" in source:
            env[name] = resource_value(source["resourceFieldRef"], container, node_allocatable or {})
        else:
            raise ConfigError(f"unsupported valueFrom for env {name!r}")
    return env


def expand_command(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded; empty when the image's default would be used."""
    return [expand(part, env) for part in (container.get("command") or []) + (container.get("args") or [])]
