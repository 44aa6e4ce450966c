"""`make demo`: dub a generated two-speaker English clip on this machine.

    python -m dubbing.demo [--to pt-BR] [--out out] [--seconds 40]

It makes the sample clip (espeak-ng voices over an ffmpeg test pattern) under
``<out>/sample.mp4`` unless one is there, then runs the same pipeline as
``dubbing run`` with the backends that have real weights on a CPU-only machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import cli, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dubbing.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--to", default="pt-BR", help="target language (default pt-BR: the pair with packaged weights)")
    parser.add_argument("--out", default="out", help="output directory")
    parser.add_argument("--seconds", type=float, default=40.0, help="the generated sample lasts at least this long")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sample = out / "sample.mp4"
    if not sample.exists():
        print(f"making a {args.seconds:.0f} s two-speaker English sample: {sample}")
        samples.make_clip(sample, count=None, min_seconds=args.seconds)
    return cli.main(["run", str(sample), "--from", "en", "--to", args.to, "--out", str(out)])


if __name__ == "__main__":
    raise SystemExit(main())
