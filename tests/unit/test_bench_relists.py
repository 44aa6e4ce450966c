"""The relists benchmark's pure parts: the jobs it makes are valid finished jobs, and its reading of the RSS."""

from __future__ import annotations

from bench.operator_relists import STAGES, finished_status, lists_done, step_per_list
from dubbing.api.v1alpha1 import STAGES as JOB_STAGES
from dubbing.api.v1alpha1 import DubbingJobStatus


def test_the_jobs_status_is_a_valid_finished_status_of_every_stage():
    status = DubbingJobStatus.model_validate(finished_status("r00001"))
    assert status.phase == "Succeeded" and [s.name for s in status.stages or []] == list(JOB_STAGES) == list(STAGES)
    assert all(s.phase == "Succeeded" and s.podName == f"r00001-{s.name}-1" for s in status.stages or [])


def test_the_list_count_is_read_from_the_metrics_text():
    text = "# HELP dubbing_job_lists_total ...\n# TYPE dubbing_job_lists_total counter\ndubbing_job_lists_total 7.0\n"
    assert lists_done(text) == 7
    assert lists_done("dubbing_operator_synced 0.0\n") == 0


def test_the_step_per_list_is_the_slope_after_start_up():
    flat = [{"lists": i, "rss_mib": 230.0 + (5 if i == 1 else 0) + (-1) ** i} for i in range(1, 21)]
    assert abs(step_per_list(flat)) < 0.2
    steps = [{"lists": i, "rss_mib": 250.0 + 30 * i} for i in range(1, 13)]
    assert step_per_list(steps) == 30.0
    assert step_per_list(steps[:2]) == 0.0  # nothing after start-up to fit
