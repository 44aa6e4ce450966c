"""Pure parts of the hollow-node operator benchmark."""

from __future__ import annotations

from bench.operator_hollow import (
    calls_delta,
    cdf_points,
    component_of,
    cpu_per_transition,
    per_transition,
    stage_gaps,
    svg,
    table,
)


def test_stage_gaps_pair_each_end_with_the_next_stages_pod():
    created = {"a": 0.0, "b": 2.5, "c": 5.4}
    done = {"a": 2.2, "b": 5.0}
    assert [round(g, 3) for g in stage_gaps(["a", "b", "c", "d"], created, done)] == [0.3, 0.4]
    assert stage_gaps(["a", "b"], {"a": 0.0}, {"a": 1.0}) == []  # the next Pod never came: no gap


def test_calls_between_two_readings():
    before = {"create_pod": 10, "get_job": 5}
    after = {"create_pod": 30, "get_job": 5, "replace_status": 21}
    delta = calls_delta(before, after)
    assert delta == {"create_pod": 20, "replace_status": 21}
    assert per_transition(delta, 20) == {"create_pod": 1.0, "replace_status": 1.05}
    assert per_transition(delta, 0) == {}


def test_cdf_points():
    pts = cdf_points([float(i) for i in range(1, 101)])
    assert pts[0] == (0, 1.0) and (50, 50.0) in pts and (95, 95.0) in pts and pts[-1] == (100, 100.0)
    assert cdf_points([]) == []


def test_table_and_plot_render_a_result():
    row = {
        "jobs": 10, "nodes": 2, "stage_seconds": 2.0, "stages_per_job": 8, "succeeded": 10,
        "stage_gap_seconds": {"p50": 0.2, "p95": 0.4, "max": 0.9},
        "create_to_first_pod_seconds": {"p50": 0.5, "p95": 1.0},
        "transitions_per_second": 12.0, "api_calls_per_transition": 2.5,
        "api_calls_per_transition_by_call": {"create_pod": 1.0, "replace_status": 1.2},
        "operator": {"rss_peak_mib": 100.0, "cpu_seconds": 3.0, "cpu_seconds_per_transition": 0.0375},
        "timeline": [{"t": 0.0, "stages_done": 0}, {"t": 10.0, "stages_done": 80}],
        "cpu_ms_per_transition_by_component": {"kube-apiserver": 20.0, "operator": 7.5},
        "stage_gap_cdf": [(0, 0.1), (50, 0.2), (100, 0.9)],
    }  # fmt: skip
    md = table([row])
    assert "| 10 | 2 | 2.0 | 0.20 / 0.40 / 0.90 |" in md and "| 10 | 1.0 | 1.2 |" in md
    assert "| 10 | 20.0 | - | - | - | 7.5 | - | - | 27.5 |" in md  # CPU by process, the rest not read
    drawing = svg([row])
    assert drawing.startswith("<svg") and drawing.count("<polyline") == 2


def test_cpu_by_component_between_two_readings():
    assert component_of("/usr/bin/kube-apiserver --etcd-servers=http://127.0.0.1:2379") == "kube-apiserver"
    assert component_of("python -m devcluster.kubelet --name dev-hollow-1 --hollow 2") == "hollow kubelets"
    assert component_of("python -m dubbing_operator --namespace x") == "operator"
    assert component_of("/bin/bash") is None
    before = {"kube-apiserver": 10.0, "operator": 4.0}
    after = {"kube-apiserver": 30.0, "operator": 12.0, "hollow kubelets": 3.0}  # the kubelets started between
    assert cpu_per_transition(before, after, 1000) == {"kube-apiserver": 20.0, "operator": 8.0}
    assert cpu_per_transition(before, after, 0) == {}
