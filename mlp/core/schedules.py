"""Learning-rate schedules: the factor on ``lr`` as a pure function of the step number ``t`` (from 1).

Pure functions of ``t`` (no state), so a resumed run (which restores ``t``) and a compiled loop of steps
(where ``t`` is traced) take exactly the learning rates of an unbroken run.  ``factor(t, xp)`` works on a
Python number (the step-by-step paths: a Python float, so a float32 model's update stays float32) and on
a 0-d array of the model's dtype (a compiled loop: array operations only).

An optimizer holds one (``mlp.Adam(1e-3, schedule=mlp.Cosine(total_steps=5000, warmup_steps=200))``);
its ``lr`` is the peak, and the step's rate is ``lr * schedule.factor(t)``.
"""

from __future__ import annotations

import math
from typing import Any

from .registry import SCHEDULES
from .validate import fraction, non_negative, non_negative_int, positive_int


class Schedule:
    """Base class: :meth:`factor` and a JSON-able :meth:`config`."""

    def factor(self, t: Any, xp: Any = None) -> Any:
        """The factor at step ``t``: a Python float for a Python number, else a 0-d array of namespace ``xp``."""
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return isinstance(other, Schedule) and self.config() == other.config()

    def __hash__(self):
        return hash(tuple(sorted(self.config().items())))


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """Linear warm-up over ``warmup_steps``, then a half cosine from 1 down to ``final`` at ``total_steps``.

    After ``total_steps`` the factor stays at ``final``.
    """

    def __init__(self, total_steps, warmup_steps=0, final=0.0):
        self.total_steps = positive_int("total_steps", total_steps, "Cosine")
        self.warmup_steps = non_negative_int("warmup_steps", warmup_steps, "Cosine")
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"Cosine: warmup_steps ({self.warmup_steps}) must be fewer than total_steps ({self.total_steps})"
            )
        self.final = fraction("final", final, "Cosine")

    def factor(self, t, xp=None):
        w, span, final = self.warmup_steps, self.total_steps - self.warmup_steps, self.final
        if isinstance(t, (int, float)):
            if t <= w:
                return t / w if w else 1.0
            progress = min(1.0, (t - w) / span)
            return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
        progress = xp.clip((t - w) / span, min=0.0, max=1.0)
        decay = final + (1.0 - final) * 0.5 * (1.0 + xp.cos(math.pi * progress))
        if not w:
            return decay
        warm = xp.clip(t / w, max=1.0)
        return xp.where(t <= w, warm, decay)

    def config(self):
        return {
            "type": "cosine",
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final": self.final,
        }


@SCHEDULES.register("inverse_scaling", "invscaling")
class InverseScaling(Schedule):
    """``1 / t**power``: scikit-learn's ``learning_rate="invscaling"`` with ``power_t``."""

    def __init__(self, power=0.5):
        self.power = non_negative("power", power, "InverseScaling")

    def factor(self, t, xp=None):
        if isinstance(t, (int, float)):
            return float(t) ** -self.power
        return t**-self.power

    def config(self):
        return {"type": "inverse_scaling", "power": self.power}


@SCHEDULES.register("warmup")
class Warmup(Schedule):
    """Linear warm-up over ``steps``, then 1."""

    def __init__(self, steps):
        self.steps = positive_int("steps", steps, "Warmup")

    def factor(self, t, xp=None):
        if isinstance(t, (int, float)):
            return min(1.0, t / self.steps)
        return xp.clip(t / self.steps, max=1.0)

    def config(self):
        return {"type": "warmup", "steps": self.steps}


def get_schedule(schedule: Schedule | dict[str, Any] | None) -> Schedule | None:
    """A schedule from an instance, a :meth:`Schedule.config` dict, or None."""
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, dict) and isinstance(schedule.get("type"), str) and schedule["type"] in SCHEDULES:
        return SCHEDULES.get(schedule["type"])(**{k: v for k, v in schedule.items() if k != "type"})
    raise ValueError(
        f"unknown learning-rate schedule {schedule!r}; known: {', '.join(SCHEDULES.names())} "
        f"(an instance such as mlp.Cosine(total_steps=...), or its config dict)"
    )


__all__ = ["Cosine", "InverseScaling", "Schedule", "Warmup", "get_schedule"]
