"""`make demo`: dub a generated two-speaker English clip on this machine.

    python -m dubbing.demo [--to pt-BR] [--out out] [--seconds 40] [--llm]

It makes the sample clip (espeak-ng voices over an ffmpeg test pattern) under
``<out>/sample.mp4`` unless one is there, then runs the same pipeline as
``dubbing run`` with the backends that have real weights on a CPU-only machine.

Targets other than pt-BR (the pair with a packaged translation model), or any target with
``--llm``, are translated by the ``llm`` backend: the OpenAI-compatible server that
``DUBBING_LLM_ENDPOINT`` / ``DUBBING_LLM_MODEL`` name, or else a local llama.cpp server with
the packaged 0.5B model, started for the run and stopped after (the ``llm-local`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import cli, samples
from .backends.languages import primary, region

ENDPOINT_ENV = "DUBBING_LLM_ENDPOINT"
MODEL_ENV = "DUBBING_LLM_MODEL"
TIMEOUT_ENV = "DUBBING_LLM_TIMEOUT_SECONDS"
#: A 0.5B model on one CPU thread of a busy machine takes minutes for a batch of eight lines: the
#: local server gets a request timeout to match (a request abandoned early is still computed, and
#: its retry queues behind it).
LOCAL_TIMEOUT_SECONDS = "1200"


def uses_llm(target: str, force: bool) -> bool:
    """Whether the demo translates with the llm backend: asked to, or no packaged model has the pair."""
    packaged = primary(target) == "pt" and region(target) in (None, "BR")
    return force or not packaged


@contextlib.contextmanager
def llm_endpoint(environ: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The variables that point the llm backend at a server: the configured one, or a local one."""
    if environ.get(ENDPOINT_ENV):
        yield {}
        return
    from .backends.llm_local import local_server

    print("starting a local llm server (llama.cpp, the packaged Qwen2.5-Coder-0.5B-Instruct)")
    with local_server() as started:
        yield {
            ENDPOINT_ENV: started.endpoint,
            MODEL_ENV: started.model,
            TIMEOUT_ENV: environ.get(TIMEOUT_ENV) or LOCAL_TIMEOUT_SECONDS,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dubbing.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--to", default="pt-BR", help="target language (default pt-BR: the pair with packaged weights)")
    parser.add_argument("--out", default="out", help="output directory")
    parser.add_argument("--seconds", type=float, default=40.0, help="the generated sample lasts at least this long")
    parser.add_argument("--llm", action="store_true", help="translate with the llm backend even for pt-BR")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sample = out / "sample.mp4"
    if not sample.exists():
        print(f"making a {args.seconds:.0f} s two-speaker English sample: {sample}")
        samples.make_clip(sample, count=None, min_seconds=args.seconds)
    command = ["run", str(sample), "--from", "en", "--to", args.to, "--out", str(out)]
    if not uses_llm(args.to, args.llm):
        return cli.main(command)
    with llm_endpoint(os.environ) as variables:
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            return cli.main([*command, "--backend", "translate=llm"])
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


if __name__ == "__main__":
    raise SystemExit(main())
