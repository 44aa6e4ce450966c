"""Conditions in Kubernetes' form: lastTransitionTime moves only when the status flips."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from dubbing.api.v1alpha1 import Condition


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: Literal["True", "False", "Unknown"],
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    out: list[Condition] = []
    found = False
    for cond in conditions:
        if cond.type != type_:
            out.append(cond)
            continue
        found = True
        when = cond.lastTransitionTime if cond.status == status else now
        out.append(
            Condition(
                type=type_, status=status, reason=reason, message=message[:32000],
                lastTransitionTime=when, observedGeneration=generation,
            )
        )  # fmt: skip
    if not found:
        out.append(
            Condition(
                type=type_, status=status, reason=reason, message=message[:32000],
                lastTransitionTime=now, observedGeneration=generation,
            )
        )  # fmt: skip
    return out


def get_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    for cond in conditions or []:
        if cond.type == type_:
            return cond
    return None
