"""Pod volumes on the local disk and the bind mounts each container gets.

Every volume becomes a host directory (or file): emptyDir under the pod's state
directory, hostPath as it is, secret/configMap/downwardAPI/projected as files
written under the pod's state directory. `mounts_for` turns a container's
volumeMounts into (source, target, read-only) bind mounts, which the launcher
applies inside the container's own mount namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster.kubelet_env import ConfigError, Lookup, expand, field_value, object_data, resource_value

TokenRequest = Callable[[str, str, dict[str, Any]], str]
"""(namespace, serviceAccountName, tokenRequest spec) -> token."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}


@dataclass(frozen=True)
class VolumeSources:
    secrets: Lookup
    configmaps: Lookup
    token: TokenRequest
    node_name: str


def _write_files(directory: Path, files: Mapping[str, tuple[str, int | None]], default_mode: int | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for rel, (text, mode) in files.items():
        target = directory / rel
        if not target.resolve().is_relative_to(directory.resolve()):
            raise ConfigError(f"volume item path {rel!r} leaves the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        mode = mode if mode is not None else default_mode
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, target)


def _keyed_files(
    data: Mapping[str, str], items: list[dict[str, Any]] | None, what: str, optional: bool
) -> dict[str, tuple[str, int | None]]:
    if not items:
        return {key: (value, None) for key, value in data.items()}
    out: dict[str, tuple[str, int | None]] = {}
    for item in items:
        if item["key"] not in data:
            if optional:
                continue
            raise ConfigError(f"key {item['key']!r} not found in {what}")
        out[item["path"]] = (data[item["key"]], item.get("mode"))
    return out


def _object_files(
    lookup: Lookup, kind: str, namespace: str, ref: Mapping[str, Any], name_key: str
) -> dict[str, tuple[str, int | None]]:
    name = ref.get(name_key, "")
    optional = bool(ref.get("optional"))
    obj = lookup(namespace, name)
    if obj is None:
        if optional:
            return {}
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return _keyed_files(object_data(obj), ref.get("items"), f"{kind} {namespace}/{name}", optional)


def _downward_files(
    items: list[dict[str, Any]], pod: Mapping[str, Any], node: str
) -> dict[str, tuple[str, int | None]]:
    out: dict[str, tuple[str, int | None]] = {}
    for item in items or []:
        if "fieldRef" in item:
            value = field_value(item["fieldRef"]["fieldPath"], pod, node, "127.0.0.1")
        else:
            ref = item["resourceFieldRef"]
            container: Mapping[str, Any] = next(
                (c for c in pod["spec"].get("containers", []) if c["name"] == ref.get("containerName")), {}
            )
            value = resource_value(ref, container, {})
        out[item["path"]] = (value, item.get("mode"))
    return out


def prepare_volume(volume: Mapping[str, Any], pod: Mapping[str, Any], pod_dir: Path, src: VolumeSources) -> str:
    """Materialise one volume on disk and return its host path."""
    name = volume["name"]
    namespace = pod["metadata"]["namespace"]
    if "emptyDir" in volume:
        path = pod_dir / "volumes" / "empty-dir" / name
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o777)
        return str(path)
    if "hostPath" in volume:
        host = volume["hostPath"]
        path = Path(host["path"])
        kind = host.get("type", "")
        if kind == "DirectoryOrCreate":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        elif kind == "Directory" and not path.is_dir():
            raise ConfigError(f"hostPath {path} is not a directory")
        elif kind == "File" and not path.is_file():
            raise ConfigError(f"hostPath {path} is not a file")
        return str(path)
    if "secret" in volume:
        ref = volume["secret"]
        path = pod_dir / "volumes" / "secret" / name
        files = _object_files(src.secrets, "Secret", namespace, ref, "secretName")
        _write_files(path, files, ref.get("defaultMode", 0o644))
        return str(path)
    if "configMap" in volume:
        ref = volume["configMap"]
        path = pod_dir / "volumes" / "configmap" / name
        files = _object_files(src.configmaps, "ConfigMap", namespace, ref, "name")
        _write_files(path, files, ref.get("defaultMode", 0o644))
        return str(path)
    if "downwardAPI" in volume:
        ref = volume["downwardAPI"]
        path = pod_dir / "volumes" / "downward-api" / name
        _write_files(path, _downward_files(ref.get("items", []), pod, src.node_name), ref.get("defaultMode", 0o644))
        return str(path)
    if "projected" in volume:
        ref = volume["projected"]
        path = pod_dir / "volumes" / "projected" / name
        files = {}
        for source in ref.get("sources") or []:
            if "secret" in source:
                files.update(_object_files(src.secrets, "Secret", namespace, source["secret"], "name"))
            elif "configMap" in source:
                files.update(_object_files(src.configmaps, "ConfigMap", namespace, source["configMap"], "name"))
            elif "downwardAPI" in source:
                files.update(_downward_files(source["downwardAPI"].get("items", []), pod, src.node_name))
            elif "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                spec: dict[str, Any] = {"expirationSeconds": sat.get("expirationSeconds", 3600)}
                if sat.get("audience"):
                    spec["audiences"] = [sat["audience"]]
                token = src.token(namespace, pod["spec"].get("serviceAccountName") or "default", spec)
                files[sat["path"]] = (token, None)
            else:
                raise ConfigError(f"unsupported projected source in volume {name!r}: {sorted(source)}")
        _write_files(path, files, ref.get("defaultMode", 0o644))
        return str(path)
    kinds = sorted(k for k in volume if k != "name")
    raise ConfigError(f"volume {name!r}: unsupported volume type {kinds} in the development kubelet")


def prepare_volumes(pod: Mapping[str, Any], pod_dir: Path, src: VolumeSources) -> dict[str, str]:
    return {v["name"]: prepare_volume(v, pod, pod_dir, src) for v in pod["spec"].get("volumes") or []}


READ_ONLY_KINDS = ("secret", "configMap", "downwardAPI", "projected")


def mounts_for(
    container: Mapping[str, Any],
    volume_paths: Mapping[str, str],
    pod: Mapping[str, Any],
    termination_file: str,
    env: Mapping[str, str],
) -> list[Mount]:
    """Bind mounts for a container: its volumeMounts, then its termination message file."""
    kinds = {v["name"]: next((k for k in v if k != "name"), "") for v in pod["spec"].get("volumes") or []}
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        name = vm["name"]
        if name not in volume_paths:
            raise ConfigError(f"volumeMount {name!r} names no volume of the pod")
        source = volume_paths[name]
        sub = vm.get("subPath") or ""
        if vm.get("subPathExpr"):
            sub = expand(vm["subPathExpr"], env)
        if sub:
            base = Path(source)
            joined = (base / sub).resolve()
            if not joined.is_relative_to(base.resolve()):
                raise ConfigError(f"subPath {sub!r} leaves volume {name!r}")
            if not joined.exists():
                joined.mkdir(parents=True, exist_ok=True)
            source = str(joined)
        read_only = bool(vm.get("readOnly")) or kinds.get(name) in READ_ONLY_KINDS
        mounts.append(Mount(source, vm["mountPath"], read_only))
    path = container.get("terminationMessagePath") or "/dev/termination-log"
    mounts.append(Mount(termination_file, path, False))
    return mounts
