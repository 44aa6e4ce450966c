#!/usr/bin/env python3
"""Check the hashed lock files under requirements/ against the pyproject.toml files (no network).

    python tools/check_locks.py            # exit status 1, one line per problem, when a lock is stale or malformed

Each install profile has requirements/<profile>.in (which local projects, with which extras, and any
literal requirements) and requirements/<profile>.txt, written from it by tools/lock.sh. A lock passes when:

  - every entry is `name==version` with at least one --hash=sha256:..., and nothing else is in it (no
    editable or URL requirements, no index options): pip's --require-hashes then accepts nothing unpinned;
  - none of the local projects (dubbing, dubbing-operator, dubbing-webui, dubbing-devcluster) is in it:
    they are installed from the checkout with --no-deps, never resolved from an index;
  - every direct requirement of the profile (the projects' dependencies, the chosen extras, the .in's
    literal lines), with its marker true on Linux x86_64 CPython 3.11, is pinned inside its range;
  - every entry the lock says comes straight from a local project (`# via dubbing`) is still one of
    that project's direct requirements in this profile (a requirement dropped from a pyproject);
  - every pin equals ci.txt's (ci is the superset: what CI tests is what the images install), and the
    build backend every pyproject names ([build-system].requires) is pinned in build.txt inside its range.

What it cannot see without the index: a new release inside the ranges (tools/lock.sh --upgrade takes it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # a bare interpreter: pip's copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = "requirements"
SUPERSET = "ci"
BUILD = "build"
# What the locks are resolved for (tools/lock.sh: --python-platform x86_64-manylinux_2_28 --python-version 3.11).
TARGET_ENV = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.11.0",
    "python_version": "3.11",
    "sys_platform": "linux",
    "extra": "",
}
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")
LOCAL_LINE = re.compile(r"^(?:-e\s+)?(\.{1,2}(?:/[^\s\[]*)?)(?:\[([^\]]*)\])?$")


@dataclass
class Project:
    name: str
    folder: str
    dependencies: list[str]
    extras: dict[str, list[str]]
    build_requires: list[str]


@dataclass
class Entry:
    name: str
    version: str
    line: int
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


@dataclass
class Lock:
    entries: dict[str, Entry]
    problems: list[str]


def load_projects(repo: Path) -> dict[str, Project]:
    """The local projects by folder ('.', 'operator', ...): every pyproject.toml at the root and one folder down."""
    projects: dict[str, Project] = {}
    for path in [repo / "pyproject.toml", *sorted(repo.glob("*/pyproject.toml"))]:
        if not path.is_file():
            continue
        data = tomllib.loads(path.read_text())
        project = data.get("project") or {}
        if "name" not in project:
            continue
        folder = "." if path.parent == repo else path.parent.name
        projects[folder] = Project(
            name=canonicalize_name(project["name"]),
            folder=folder,
            dependencies=list(project.get("dependencies", [])),
            extras={canonicalize_name(k): list(v) for k, v in (project.get("optional-dependencies") or {}).items()},
            build_requires=list((data.get("build-system") or {}).get("requires", [])),
        )
    return projects


def parse_in(
    path: Path, projects: dict[str, Project], seen: set[Path] | None = None
) -> tuple[list[tuple[Project, list[str]]], list[str], list[str]]:
    """A profile's .in: (local projects with extras, literal requirement strings, problems)."""
    seen = seen or set()
    seen.add(path.resolve())
    selected: list[tuple[Project, list[str]]] = []
    literal: list[str] = []
    problems: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.parent.name}/{path.name}:{number}"
        if line.startswith(("-r ", "--requirement ")):
            included = path.parent / line.split(None, 1)[1]
            if included.resolve() not in seen:
                sub_selected, sub_literal, sub_problems = parse_in(included, projects, seen)
                selected += sub_selected
                literal += sub_literal
                problems += sub_problems
            continue
        if line.startswith(("-c ", "--constraint ")):
            continue
        local = LOCAL_LINE.match(line)
        if local:
            folder = local.group(1).removeprefix("./").rstrip("/") or "."
            project = projects.get(folder)
            if project is None:
                problems.append(f"{where}: {line}: no local project with a pyproject.toml there")
                continue
            extras = [canonicalize_name(e) for e in (local.group(2) or "").split(",") if e.strip()]
            unknown = [e for e in extras if e not in project.extras]
            if unknown:
                problems.append(f"{where}: {project.name} has no extra {', '.join(unknown)}")
            selected.append((project, extras))
            continue
        if line.startswith("-"):
            problems.append(f"{where}: {line}: only -e <local project>, -r and -c options belong in an .in")
            continue
        literal.append(line)
    return selected, literal, problems


def parse_lock(path: Path) -> Lock:
    rel = f"{path.parent.name}/{path.name}"
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    current: Entry | None = None
    logical: list[str] = []
    start = 0
    lines = path.read_text().splitlines()
    for number, raw in enumerate(lines + [""], start=1):
        stripped = raw.strip()
        if stripped.startswith("#") and not logical:
            if current is not None:
                via = stripped.lstrip("#").strip()
                if via.startswith("via"):
                    via = via[3:].strip()
                if via:
                    current.via.append(via)
            continue
        if not stripped and not logical:
            current = None  # what follows a blank line is no entry's annotation
            continue
        if not logical:
            start = number
        if stripped.endswith("\\"):
            logical.append(stripped[:-1].strip())
            continue
        logical.append(stripped)
        words = " ".join(logical).split()
        logical = []
        if not words:
            continue
        match = ENTRY.match(words[0])
        if not match:
            problems.append(
                f"{rel}:{start}: {words[0]}: not a `name==version` pin (pip --require-hashes would refuse "
                "or, for an option, fetch outside the lock)"
            )
            current = None
            continue
        name = canonicalize_name(match.group(1))
        current = Entry(name, match.group(2), start)
        for word in words[1:]:
            if HASH.match(word):
                current.hashes.append(word)
            else:
                problems.append(f"{rel}:{start}: {name}: unexpected {word!r} (only --hash=sha256:<64 hex> options)")
        if not current.hashes:
            problems.append(f"{rel}:{start}: {name}=={current.version} carries no --hash")
        if name in entries:
            problems.append(f"{rel}:{start}: {name} pinned twice")
        entries[name] = current
    return Lock(entries, problems)


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate(TARGET_ENV)


def _pinned_inside(req: Requirement, entry: Entry) -> bool:
    try:
        return req.specifier.contains(Version(entry.version), prereleases=True)
    except ValueError:
        return False


def check(repo: Path = REPO_ROOT) -> list[str]:
    problems: list[str] = []
    projects = load_projects(repo)
    local_names = {p.name for p in projects.values()}
    lock_dir = repo / LOCK_DIR
    ins = {p.stem: p for p in sorted(lock_dir.glob("*.in"))}
    txts = {p.stem: p for p in sorted(lock_dir.glob("*.txt"))}
    for stem in sorted(set(ins) - set(txts)):
        problems.append(f"{LOCK_DIR}/{stem}.in has no lock {LOCK_DIR}/{stem}.txt (run tools/lock.sh)")
    for stem in sorted(set(txts) - set(ins)):
        problems.append(f"{LOCK_DIR}/{stem}.txt has no {stem}.in it is generated from")
    for required in (SUPERSET, BUILD):
        if required not in ins:
            problems.append(f"{LOCK_DIR}/{required}.in is missing")

    locks = {stem: parse_lock(txts[stem]) for stem in sorted(set(ins) & set(txts))}
    for stem, lock in locks.items():
        rel = f"{LOCK_DIR}/{stem}.txt"
        problems += lock.problems
        selected, literal, in_problems = parse_in(ins[stem], projects)
        problems += in_problems

        # Direct requirements, and which local project (or the .in) asks for each.
        direct: list[tuple[str, Requirement]] = []
        for project, extras in selected:
            for spec in project.dependencies + [r for e in extras for r in project.extras.get(e, [])]:
                direct.append((project.name, Requirement(spec)))
        direct += [(f"{stem}.in", Requirement(spec)) for spec in literal]
        if stem == BUILD:
            direct += [
                (f"{p.folder}/pyproject.toml [build-system]", Requirement(spec))
                for p in projects.values()
                for spec in p.build_requires
            ]
        wanted_by: dict[str, set[str]] = {}
        for owner, req in direct:
            name = canonicalize_name(req.name)
            if name in local_names or not _applies(req):
                continue
            wanted_by.setdefault(owner, set()).add(name)
            entry = lock.entries.get(name)
            if entry is None:
                problems.append(f"{rel}: {req} ({owner}) is not in the lock: stale, run tools/lock.sh")
            elif not _pinned_inside(req, entry):
                problems.append(
                    f"{rel}:{entry.line}: {name}=={entry.version} is outside {req} ({owner}): stale, run tools/lock.sh"
                )

        for entry in lock.entries.values():
            if entry.name in local_names:
                problems.append(
                    f"{rel}:{entry.line}: {entry.name} is a local project: it must not come from an index "
                    "(tools/lock.sh passes --no-emit-package)"
                )
            for via in entry.via:
                owner = canonicalize_name(via) if via in local_names or canonicalize_name(via) in local_names else None
                if owner is not None and entry.name not in wanted_by.get(owner, set()):
                    problems.append(
                        f"{rel}:{entry.line}: {entry.name} is locked as a requirement of {owner}, which no "
                        "longer asks for it in this profile: stale, run tools/lock.sh"
                    )

    superset = locks.get(SUPERSET)
    if superset is not None:
        for stem, lock in locks.items():
            if stem == SUPERSET:
                continue
            for entry in lock.entries.values():
                pinned = superset.entries.get(entry.name)
                if pinned is None:
                    problems.append(
                        f"{LOCK_DIR}/{stem}.txt:{entry.line}: {entry.name} is not in {SUPERSET}.txt "
                        f"(every profile is resolved within {SUPERSET}'s pins): run tools/lock.sh"
                    )
                elif pinned.version != entry.version:
                    problems.append(
                        f"{LOCK_DIR}/{stem}.txt:{entry.line}: {entry.name}=={entry.version} but "
                        f"{SUPERSET}.txt pins {pinned.version}: run tools/lock.sh"
                    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT)
    args = parser.parse_args(argv)
    problems = check(args.repo)
    for problem in problems:
        print(problem)
    if not problems:
        count = len(list((args.repo / LOCK_DIR).glob("*.txt")))
        print(f"{count} lock(s) match the pyproject files, every entry pinned and hashed", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
