"""Review pauses (pure): after which stage a job waits for the user, and what it says.

A job with ``spec.review.after: [translate]`` stops once translate has succeeded, in phase
``AwaitingReview`` with the condition ``AwaitingReview`` True, an Event and a "ready for
review" message.  It holds no Pod and gives its admission slot back.  Adding the stage to
``spec.review.approved`` lets it go on: it queues for a slot again and runs the next stages,
which take in the edits stored meanwhile (``dubbing edit``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from dubbing.api.v1alpha1 import STAGES, DubbingJob

PHASE: Final = "AwaitingReview"
CONDITION = "AwaitingReview"


def review_hold(job: DubbingJob, succeeded: Iterable[str]) -> str | None:
    """The stage the job waits at now: the first stage of ``spec.review.after`` that has
    succeeded in this run and is not approved; None when the job may go on."""
    review = job.spec.review
    if review is None:
        return None
    done = set(succeeded)
    for stage in STAGES:
        if stage in review.after and stage not in review.approved and stage in done:
            return stage
    return None


def waiting_message(job: DubbingJob, stage: str) -> str:
    return f"waiting for review after {stage}: edit the segments, then add {stage} to spec.review.approved to go on"


def outcome(stage: str) -> str:
    """The notification outcome of a review pause (one message per stage and run)."""
    return f"review-{stage}"
