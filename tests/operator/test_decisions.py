"""The reconcile decision, one situation at a time (pure: no cluster)."""

from __future__ import annotations

from datetime import UTC, timedelta

from dubbing.api.v1alpha1 import STAGES
from dubbing_operator.actions import (
    AddFinalizer,
    CreatePod,
    DeletePod,
    EmitEvent,
    Notify,
    PatchStatus,
    RemoveFinalizer,
    Requeue,
)  # fmt: skip
from dubbing_operator.decisions import ClusterView, decide
from dubbing_operator.observe import view_pod
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod

S = Settings(backoff_base_seconds=10, backoff_factor=2, backoff_max_seconds=100, max_attempts=3,
             ntfy_url="http://ntfy.test", ntfy_default_topic="dubs")  # fmt: skip
ADMIT = ClusterView(admitted=True)


def only(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def status_of(actions):
    patches = only(actions, PatchStatus)
    assert len(patches) == 1, actions
    return patches[0].status


def run_decide(job, pods, view=ADMIT, now=T0 + timedelta(minutes=1), settings=S):
    return decide(job, [view_pod(p) for p in pods], view, settings, now)


def running_job(**spec):
    return make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"}, **spec)


def test_new_job_gets_finalizer_and_waits_in_queue_when_not_admitted():
    job = make_job(finalizer=False)
    acts = run_decide(
        job, [], ClusterView(admitted=False, queue_position=2, queue_reason="all 1 GPU job slot(s) are taken")
    )
    assert only(acts, AddFinalizer)
    st = status_of(acts)
    assert st["phase"] == "Queued" and st["queuePosition"] == 2
    assert st["message"] == "position 2 in the queue: all 1 GPU job slot(s) are taken"
    assert not only(acts, CreatePod)
    queued = [c for c in st["conditions"] if c["type"] == "Queued"][0]
    assert queued["status"] == "True"
    assert any(e.reason == "Queued" for e in only(acts, EmitEvent))


def test_admitted_job_creates_first_stage_pod_before_writing_status():
    acts = run_decide(make_job(), [])
    assert isinstance(acts[0], CreatePod)
    pod = acts[0].manifest
    assert pod["metadata"]["name"] == "clip-extract-1"
    st = status_of(acts)
    assert st["phase"] == "Running" and st["currentStage"] == "extract"
    assert acts.index(acts[0]) < acts.index(only(acts, PatchStatus)[0])


def test_next_stage_after_success_and_times_come_from_the_pod():
    pod = make_pod("extract", started=T0, finished=T0 + timedelta(seconds=7))
    acts = run_decide(running_job(), [pod])
    create = only(acts, CreatePod)
    assert [c.name for c in create] == ["clip-separate-1"]
    st = status_of(acts)
    ex = st["stages"][0]
    assert ex["phase"] == "Succeeded"
    assert ex["startedAt"] == "2025-01-01T12:00:00Z" and ex["finishedAt"] == "2025-01-01T12:00:07Z"
    assert ex["durationSeconds"] == 7.0 and ex["backend"] == "ffmpeg" and ex["cacheHit"] is False
    assert any(e.reason == "StageSucceeded" for e in only(acts, EmitEvent))


def test_never_a_second_pod_while_one_is_active():
    for phase in ("Pending", "Running"):
        acts = run_decide(running_job(), [make_pod("extract", phase=phase, finished=None)])
        assert not only(acts, CreatePod)
        assert only(acts, Requeue)


def test_a_running_pod_is_looked_at_again_after_the_views_poll_period():
    pods = [make_pod("extract", phase="Running", finished=None)]
    assert [a.after for a in only(run_decide(running_job(), pods), Requeue)] == [5.0]
    slow = ClusterView(admitted=True, poll_seconds=37.5)
    assert [a.after for a in only(run_decide(running_job(), pods, slow), Requeue)] == [37.5]


def test_poll_period_stretches_with_the_number_of_running_jobs():
    from datetime import datetime

    from dubbing_operator.admission import Admission, QueueEntry
    from dubbing_operator.engine import Engine

    admission = Admission(1000, 1000, None)
    engine = Engine(None, Settings(running_poll_seconds=5, max_polls_per_second=20), admission)  # type: ignore[arg-type]
    assert engine.poll_seconds() == 5
    when = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(1000):
        admission.update(QueueEntry(f"ns/j{i}", "u", 0, when, True, active=i < 600), f"ns/j{i}")
    assert engine.poll_seconds() == 30.0  # 600 running / 20 per second


def test_same_world_same_decision_after_status_was_written():
    """Restart-safety: re-deciding on the written status changes nothing and creates nothing twice."""
    job = running_job()
    pods = [make_pod("extract"), make_pod("separate", phase="Running", finished=None, node="dev-gpu-0")]
    acts = run_decide(job, pods)
    st = status_of(acts)
    job2 = make_job(status=st)
    again = run_decide(job2, pods)
    assert not only(again, PatchStatus) and not only(again, CreatePod) and not only(again, EmitEvent)


def test_failed_attempt_waits_for_backoff_then_retries_with_next_attempt_number():
    failed = make_pod("extract", phase="Failed", exit_code=1, finished=T0 + timedelta(seconds=5),
                      summary={"ok": False, "reason": "Boom", "message": "network"})  # fmt: skip
    early = run_decide(running_job(), [failed], now=T0 + timedelta(seconds=8))
    assert not only(early, CreatePod)
    st = status_of(early)
    assert st["stages"][0]["nextAttemptAt"] == "2025-01-01T12:00:15Z"
    assert 6.9 < only(early, Requeue)[0].after < 7.1
    late = run_decide(make_job(status=st), [failed], now=T0 + timedelta(seconds=15))
    assert [c.name for c in only(late, CreatePod)] == ["clip-extract-2"]


def test_backoff_grows_and_is_capped():
    s = Settings(backoff_base_seconds=10, backoff_factor=3, backoff_max_seconds=50)
    assert [s.backoff(n) for n in (1, 2, 3, 4)] == [10, 30, 50, 50]


def test_stage_fails_for_good_after_max_attempts():
    pods = [
        make_pod("extract", a, "Failed", exit_code=1, summary={"reason": "Boom", "message": "m"}) for a in (1, 2, 3)
    ]
    acts = run_decide(running_job(), pods)
    st = status_of(acts)
    assert st["phase"] == "Failed" and st["reason"] == "StageExtractFailed"
    assert "extract" in st["message"] and "Boom" in st["message"]
    assert st["stages"][0]["phase"] == "Failed" and st["stages"][0]["attempts"] == 3
    failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
    assert failed["status"] == "True"
    assert only(acts, Notify)[0].outcome == "failed"


def test_exit_code_2_is_not_retried():
    pod = make_pod("extract", 1, "Failed", exit_code=2, summary={"reason": "NotMedia", "message": "not a video"})
    st = status_of(run_decide(running_job(), [pod]))
    assert st["phase"] == "Failed" and "permanent" in st["message"] and "NotMedia" in st["message"]


def test_job_max_attempts_overrides_operator_default():
    pod = make_pod("extract", 1, "Failed", exit_code=1)
    st = status_of(run_decide(running_job(stages={"extract": {"maxAttempts": 1}}), [pod]))
    assert st["phase"] == "Failed"


def test_unschedulable_gpu_pod_is_a_condition_not_a_failure():
    msg = "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint."
    pods = [make_pod("extract"), make_pod("separate", phase="Pending", finished=None, unschedulable=msg)]
    acts = run_decide(running_job(), pods)
    st = status_of(acts)
    assert st["phase"] == "Running" and st["reason"] == "WaitingForGPU"
    cond = [c for c in st["conditions"] if c["type"] == "Scheduled"][0]
    assert cond["status"] == "False" and cond["reason"] == "WaitingForGPU" and cond["message"] == msg
    assert any(e.reason == "WaitingForGPU" for e in only(acts, EmitEvent))
    assert not only(acts, CreatePod) and not only(acts, DeletePod)


def test_condition_transition_time_only_moves_on_flip():
    msg = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    pods = [make_pod("extract"), make_pod("separate", phase="Pending", finished=None, unschedulable=msg)]
    st1 = status_of(run_decide(running_job(), pods, now=T0 + timedelta(seconds=60)))
    pods[1] = make_pod("separate", phase="Pending", finished=None,
                       unschedulable="0/1 nodes are available: 1 Insufficient nvidia.com/gpu (again).")  # fmt: skip
    st2 = status_of(run_decide(make_job(status=st1), pods, now=T0 + timedelta(seconds=90)))
    c1 = [c for c in st1["conditions"] if c["type"] == "Scheduled"][0]
    c2 = [c for c in st2["conditions"] if c["type"] == "Scheduled"][0]
    assert c1["lastTransitionTime"] == c2["lastTransitionTime"] and c1["message"] != c2["message"]


def test_all_stages_done_is_success_with_outputs_and_notification_intent():
    pods = [make_pod(s) for s in STAGES if s != "mux"]
    pods.append(make_pod("mux", summary={"ok": True, "backend": "ffmpeg",
                                         "outputs": {"es": {"video": "jobs/ns/clip/outputs/es/clip.mp4"}}}))  # fmt: skip
    acts = run_decide(running_job(), pods)
    st = status_of(acts)
    assert st["phase"] == "Succeeded" and st["progress"] == 100.0
    assert st["outputs"]["languages"][0]["video"] == "jobs/ns/clip/outputs/es/clip.mp4"
    assert st["notification"]["state"] == "sending" and st["notification"]["topic"] == "dubs"
    n = only(acts, Notify)[0]
    assert n.id == "uid-1-0-succeeded" and n.check_first is False
    # the status (with the intent) is written before the message is sent
    assert acts.index(only(acts, PatchStatus)[0]) < acts.index(n)


def test_the_language_asr_detected_is_in_the_status_as_soon_as_asr_succeeds():
    pods = [make_pod(s) for s in ("extract", "separate", "diarize")]
    pods.append(make_pod("asr", summary={"ok": True, "outputs": {"key": "cache/asr/k", "language": "en"}}))
    st = status_of(run_decide(running_job(), pods))
    assert st["phase"] == "Running" and st["detectedSourceLanguage"] == "en"
    # a summary without a detection (the language was given) leaves the field out
    pods[-1] = make_pod("asr", summary={"ok": True, "outputs": {"key": "cache/asr/k"}})
    assert "detectedSourceLanguage" not in status_of(run_decide(running_job(), pods))


def test_restart_with_sending_state_checks_before_resending():
    job = make_job(status={"phase": "Succeeded", "notification": {
        "outcome": "succeeded", "state": "sending", "id": "uid-1-0-succeeded", "topic": "dubs"}})  # fmt: skip
    n = only(run_decide(job, []), Notify)
    assert len(n) == 1 and n[0].check_first is True


def test_sent_notification_is_never_sent_again():
    st = status_of(run_decide(make_job(status={"phase": "Succeeded"}), []))
    st["notification"] = {"outcome": "succeeded", "state": "sent", "id": "x"}
    acts = run_decide(make_job(status=st), [])
    assert not only(acts, Notify) and not only(acts, PatchStatus)


def test_notification_respects_job_events_and_topic():
    job = make_job(status={"phase": "Cancelled"}, notify={"events": ["failed"]})
    st = status_of(run_decide(job, []))
    assert st["notification"]["state"] == "skipped"
    job = make_job(status={"phase": "Failed"}, notify={"topic": "alice-dubs"})
    assert only(run_decide(job, []), Notify)[0].topic == "alice-dubs"


def test_cancel_deletes_running_pod_with_grace_then_ends_cancelled():
    running = make_pod("asr", phase="Running", finished=None)
    acts = run_decide(running_job(cancel=True), [running])
    dels = only(acts, DeletePod)
    assert dels == [DeletePod("clip-asr-1", S.termination_grace_seconds)]
    assert status_of(acts)["phase"] == "Running"
    # while it terminates, no second delete
    acts = run_decide(running_job(cancel=True), [make_pod("asr", phase="Running", finished=None, deleting=True)])
    assert not only(acts, DeletePod)
    acts = run_decide(running_job(cancel=True), [])
    st = status_of(acts)
    assert st["phase"] == "Cancelled" and st["finishedAt"]
    assert any(e.reason == "Cancelled" for e in only(acts, EmitEvent))


def test_cancel_of_a_queued_job_needs_no_pod():
    job = make_job(status={"phase": "Queued", "queuePosition": 1}, cancel=True)
    st = status_of(run_decide(job, [], ClusterView(admitted=False)))
    assert st["phase"] == "Cancelled" and "queuePosition" not in st


def test_deletion_stops_pods_then_releases_finalizer():
    job = make_job(status={"phase": "Running"})
    job.metadata.deletionTimestamp = T0
    acts = run_decide(job, [make_pod("asr", phase="Running", finished=None)])
    assert only(acts, DeletePod) and not only(acts, RemoveFinalizer)
    acts = run_decide(job, [make_pod("extract")])
    assert only(acts, RemoveFinalizer)


def test_rerun_of_failed_job_starts_a_new_run_with_fresh_attempts():
    pods = [make_pod("extract", a, "Failed", exit_code=1) for a in (1, 2, 3)]
    job = make_job(status={"phase": "Failed", "observedRerun": 0}, rerun=1)
    acts = run_decide(job, pods)
    create = only(acts, CreatePod)
    assert [c.name for c in create] == ["clip-extract-4"]
    assert create[0].manifest["metadata"]["labels"]["dubbing.dev/run"] == "1"
    st = status_of(acts)
    assert st["observedRerun"] == 1 and st["phase"] == "Running"


def test_rerun_of_succeeded_job_starts_a_new_run():
    # after segment edits: the new run's stages reuse what did not change (their cache keys)
    pods = [make_pod(stage) for stage in STAGES]
    job = make_job(status={"phase": "Succeeded", "notification": {"outcome": "succeeded", "state": "sent"}}, rerun=1)
    acts = run_decide(job, pods)
    create = only(acts, CreatePod)
    assert [c.name for c in create] == ["clip-extract-2"]
    assert create[0].manifest["metadata"]["labels"]["dubbing.dev/run"] == "1"
    st = status_of(acts)
    assert st["observedRerun"] == 1 and st["phase"] == "Running"
    assert any(e.reason == "Rerun" for e in only(acts, EmitEvent))


def test_job_created_with_a_rerun_count_records_it_and_runs_once():
    acts = run_decide(make_job(rerun=2), [])
    assert status_of(acts)["observedRerun"] == 2
    queued = make_job(status={"phase": "Queued", "observedRerun": 0}, rerun=1)
    assert status_of(run_decide(queued, [], ClusterView(admitted=False)))["observedRerun"] == 1


def test_progress_and_last_log_line_from_running_pod():
    pods = [make_pod("extract"), make_pod("separate", phase="Running", finished=None, node="dev-gpu-0")]
    view = ClusterView(admitted=True, log_lines={"clip-separate-1": "[separate] 50% demucs chunk 2/4"})
    st = status_of(run_decide(running_job(), pods, view))
    sep = st["stages"][1]
    assert sep["lastLogLine"] == "[separate] 50% demucs chunk 2/4" and sep["progress"] == 50.0
    assert st["progress"] == round(100 * 1.5 / 9, 1)  # 9 stages: extract .. mux, score
    assert sep["nodeName"] == "dev-gpu-0"


def test_gpu_pod_outside_any_node_of_its_pool_waits_for_a_gpu_with_the_schedulers_message():
    msg = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    pods = [make_pod("extract"), make_pod("separate", phase="Pending", finished=None, unschedulable=msg)]
    st = status_of(run_decide(running_job(), pods))
    cond = [c for c in st["conditions"] if c["type"] == "Scheduled"][0]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "WaitingForGPU", msg)
    assert st["phase"] == "Running" and st["stages"][1]["reason"] == "WaitingForGPU"


def test_cpu_pod_that_cannot_be_placed_is_unschedulable_not_waiting_for_a_gpu():
    msg = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    pods = [make_pod("extract", phase="Pending", finished=None, unschedulable=msg)]
    acts = run_decide(running_job(), pods)
    st = status_of(acts)
    cond = [c for c in st["conditions"] if c["type"] == "Scheduled"][0]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", msg)
    assert [e.message for e in only(acts, EmitEvent) if e.reason == "Unschedulable"] == [msg]


def test_scheduled_condition_flips_back_when_the_waiting_pod_is_placed_even_if_it_already_ended():
    msg = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    waiting = [make_pod("extract"), make_pod("separate", phase="Pending", finished=None, unschedulable=msg)]
    st1 = status_of(run_decide(running_job(), waiting))
    # placed, ran and ended before the operator looked again
    ended = [make_pod("extract"), make_pod("separate", node="dev-gpu-1")]
    acts = run_decide(make_job(status=st1), ended, now=T0 + timedelta(minutes=2))
    st2 = status_of(acts)
    cond = [c for c in st2["conditions"] if c["type"] == "Scheduled"][0]
    assert cond["status"] == "True" and cond["reason"] == "Scheduled" and "dev-gpu-1" in cond["message"]
    assert (
        cond["lastTransitionTime"]
        != [c for c in st1["conditions"] if c["type"] == "Scheduled"][0]["lastTransitionTime"]
    )
    assert st2.get("reason") is None and "reason" not in st2["stages"][1]
    assert any(e.reason == "Scheduled" and e.type == "Normal" for e in only(acts, EmitEvent))


def test_outputs_from_the_stage_runtime_summary_language_to_video_key():
    """What ``dubbing stage mux`` writes: ``outputs`` maps each target language to the dubbed video's key."""
    pods = [make_pod(s) for s in STAGES if s != "mux"]
    pods.append(make_pod("mux", summary={
        "stage": "mux", "ok": True, "backend": "ffmpeg",
        "outputs": {"pt-BR": "jobs/ns/clip/outputs/pt-BR/dubbed.mp4", "es": "jobs/ns/clip/outputs/es/dubbed.wav"}}))  # fmt: skip
    st = status_of(run_decide(running_job(targetLanguages=["pt-BR", "es"]), pods))
    out = st["outputs"]
    assert out["prefix"] == "jobs/ns/clip/outputs"
    assert out["languages"] == [
        {"language": "pt-BR", "video": "jobs/ns/clip/outputs/pt-BR/dubbed.mp4"},
        {"language": "es", "audio": "jobs/ns/clip/outputs/es/dubbed.wav"},
    ]


def test_outputs_from_a_per_language_file_map():
    from dubbing_operator.decisions import language_output

    entry = {"video": "o/pt-BR/dubbed.mp4", "audio": "o/pt-BR/dubbed.wav",
             "target.srt": "o/pt-BR/pt-BR.srt", "source.vtt": "o/pt-BR/source.en.vtt"}  # fmt: skip
    got = language_output("pt-BR", entry)
    assert (got.video, got.audio) == ("o/pt-BR/dubbed.mp4", "o/pt-BR/dubbed.wav")
    assert got.subtitles == ["o/pt-BR/source.en.vtt", "o/pt-BR/pt-BR.srt"]
    assert language_output("pt-BR", {"truncated": True}).video is None


def test_language_output_reads_the_full_published_map_of_the_mux_stage() -> None:
    from dubbing_operator.decisions import language_output

    out = language_output(
        "pt-BR",
        {
            "video": "jobs/ns/j/outputs/pt-BR/dubbed.mp4",
            "audio": "jobs/ns/j/outputs/pt-BR/dubbed.wav",
            "target.srt": "jobs/ns/j/outputs/pt-BR/pt-BR.srt",
            "target.vtt": "jobs/ns/j/outputs/pt-BR/pt-BR.vtt",
            "source.srt": "jobs/ns/j/outputs/pt-BR/source.en.srt",
        },
    )
    assert out.video.endswith("dubbed.mp4") and out.audio.endswith("dubbed.wav")
    assert sorted(out.subtitles) == sorted(
        [
            "jobs/ns/j/outputs/pt-BR/pt-BR.srt",
            "jobs/ns/j/outputs/pt-BR/pt-BR.vtt",
            "jobs/ns/j/outputs/pt-BR/source.en.srt",
        ]
    )


def test_every_stage_ends_with_score_after_mux() -> None:
    assert STAGES == ("extract", "separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score")
    pods = [make_pod(s) for s in STAGES[:-1]]  # mux done, score not yet
    acts = run_decide(running_job(), pods)
    assert [c.name for c in only(acts, CreatePod)] == ["clip-score-1"]
    st = status_of(acts)
    assert st["phase"] == "Running" and st["currentStage"] == "score" and "outputs" not in st


SCORE_SUMMARY = {
    "stage": "score", "ok": True, "backend": "scorecard", "cacheHit": False,
    "outputs": {
        "pt-BR": {"report": "jobs/ns/clip/outputs/pt-BR/scorecard.json",
                  "quality": {"wer": 0.31, "cer": 0.12, "mixWer": 0.52, "fitShare": 0.9231, "overrunSeconds": 0.41,
                              "minSourceSimilarity": 0.38, "maxCrossSpeakerSimilarity": 0.97, "sameSpeakerSimilarity": 0.95,
                              "lufs": -16.02, "truePeak": -1.61, "onsetDriftMedian": 0.04, "onsetDriftMax": 0.31}},
        "es": {"report": "jobs/ns/clip/outputs/es/scorecard.json",
               "quality": {"fitShare": 1.0, "lufs": -15.9, "unmeasured": ["intelligibility"]}},
    },
}  # fmt: skip


def test_outputs_carry_the_scorecard_key_and_quality_from_the_score_stage() -> None:
    pods = [make_pod(s) for s in STAGES if s not in ("mux", "score")]
    pods.append(make_pod("mux", summary={"stage": "mux", "ok": True, "backend": "ffmpeg", "outputs": {
        "pt-BR": {"video": "jobs/ns/clip/outputs/pt-BR/dubbed.mp4"}, "es": {"video": "jobs/ns/clip/outputs/es/dubbed.mp4"}}}))  # fmt: skip
    pods.append(make_pod("score", summary=SCORE_SUMMARY))
    st = status_of(run_decide(running_job(targetLanguages=["pt-BR", "es"]), pods))
    assert st["phase"] == "Succeeded"
    pt, es = st["outputs"]["languages"]
    assert pt["video"] == "jobs/ns/clip/outputs/pt-BR/dubbed.mp4"
    assert pt["report"] == "jobs/ns/clip/outputs/pt-BR/scorecard.json"
    assert pt["quality"] == SCORE_SUMMARY["outputs"]["pt-BR"]["quality"]
    assert es["report"] == "jobs/ns/clip/outputs/es/scorecard.json"
    assert es["quality"] == {"fitShare": 1.0, "lufs": -15.9, "unmeasured": ["intelligibility"]}
    # the same pods again (a restarted operator): the same status, nothing new to write
    again = run_decide(make_job(status=st, targetLanguages=["pt-BR", "es"]), pods)
    assert not only(again, PatchStatus)


def test_score_summary_that_was_cut_or_is_odd_never_breaks_the_status() -> None:
    from dubbing_operator.decisions import language_quality

    # the termination message had no room: keys only, or outputs dropped altogether
    pods = [make_pod(s) for s in STAGES if s not in ("mux", "score")]
    pods.append(
        make_pod("mux", summary={"stage": "mux", "ok": True, "outputs": {"es": "jobs/ns/clip/outputs/es/dubbed.mp4"}})
    )
    pods.append(make_pod("score", summary={"stage": "score", "ok": True, "outputs": {"truncated": True}}))
    st = status_of(run_decide(running_job(), pods))
    assert st["phase"] == "Succeeded"
    assert st["outputs"]["languages"] == [{"language": "es", "video": "jobs/ns/clip/outputs/es/dubbed.mp4"}]
    # out-of-range or non-numeric figures are dropped one by one; unknown ones ignored
    got = language_quality(
        {"wer": -1, "cer": "high", "fitShare": 1.5, "maxCrossSpeakerSimilarity": 0.5, "lufs": True, "bogus": 3}
    )
    assert got is not None and got.model_dump(exclude_none=True) == {"maxCrossSpeakerSimilarity": 0.5}
    assert language_quality({"wer": None}) is None and language_quality("x") is None


def test_score_with_its_own_stage_options_and_no_gpu_by_default() -> None:
    from dubbing_operator.podspec import build_pod, stage_gpus

    job = running_job(stages={"score": {"asrModel": "small", "transcribeMix": False, "timeoutSeconds": 900}})
    assert stage_gpus(job, "score", S) == 0
    pod = build_pod(job, "score", 1, S)
    assert pod["metadata"]["name"] == "clip-score-1" and pod["spec"]["activeDeadlineSeconds"] == 900
    assert pod["spec"]["containers"][0]["command"][-1] == "score"
