"""``dubbing.stages.runtime`` still offers the names it held before it was split into modules."""

from __future__ import annotations

import dubbing.stages.runtime as runtime
from dubbing.stages import base, cache, context, datatypes, jobfile, runner


def test_runtime_re_exports_the_split_modules_names():
    homes = {
        datatypes: ["Ref", "Unit", "UnitResult", "StageOutcome", "now_iso"],
        context: ["StageContext"],
        base: ["Stage", "stage_class"],
        cache: ["MANIFEST_API", "run_unit"],
        runner: ["run_stage", "published_summary", "PUBLISHED_SUMMARY_BYTES"],
        jobfile: ["load_job", "parse_job"],
    }
    for module, names in homes.items():
        for name in names:
            assert getattr(runtime, name) is getattr(module, name), name
    assert set(runtime.__all__) == {n for names in homes.values() for n in names} | {"build_parser", "main"}
