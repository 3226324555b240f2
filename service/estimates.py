"""How long a long map will take, said before it starts ("about 20 s on this server").

A method says how many pictures the model sees at its settings (``Method.work``: forward passes only,
and passes with gradients); this module turns that into seconds with the speed this server showed on
the maps it finished (seconds per picture, per model and method, a running average), and before the
first one with a rough speed per model (a guess, and said to be one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: a pass with gradients costs about this many forward passes (a backward pass is about two forwards)
GRADIENT_COST = 3.0
#: rough seconds per forward pass of one picture on a small CPU server, until this server has measured its
#: own (a guess for VGG16, scaled by each model's multiply-adds per picture)
FIRST_GUESS = {"vgg16": 0.25, "resnet50": 0.07, "inception_v3": 0.1, "shapes": 0.002}
DEFAULT_GUESS = 0.25
#: weight of the newest measurement in the running average
NEWEST = 0.3


@dataclass(frozen=True)
class Estimate:
    """Seconds a map is expected to take, and whether this server measured the speed behind it."""

    seconds: float
    measured: bool

    def words(self) -> str:
        """ "about 20 s on this server", or a guess said to be one."""
        if self.seconds < 1.0:
            amount = "under a second"
        elif self.seconds < 90:
            amount = f"about {self.seconds:.0f} s"
        else:
            amount = f"about {self.seconds / 60:.0f} min"
        return f"{amount} on this server" if self.measured else f"{amount} (a first guess: no map measured here yet)"


def units(work: tuple[int, int]) -> float:
    """Pictures the model sees, counted in forward passes: (forward only, with gradients) -> one number."""
    forward, gradients = work
    return max(1.0, forward + GRADIENT_COST * gradients)


def work_done(work: tuple[int, int], meta: dict, budget: int | None) -> tuple[int, int]:
    """The pictures a finished map really had the model see, so the speed learnt stays true: what the
    method counted itself (``meta["passes_done"]``, in the units of its ``work``: occlusion's squares,
    whose finer scales cost more each), else ``work`` (its settings' count) scaled down when stable mode
    stopped before its ``budget`` (``meta["samples"]`` of equal samples)."""
    done = meta.get("passes_done")
    if done is not None:
        return int(done[0]), int(done[1])
    samples = meta.get("samples") if "stopped" in meta else None
    if not samples or not budget or samples >= budget:
        return work
    share = samples / budget
    return max(1, round(work[0] * share)) if work[0] else 0, max(1, round(work[1] * share)) if work[1] else 0


class SpeedLog:
    """Seconds per picture (in forward passes) that this server's finished maps took, per model and method."""

    def __init__(self) -> None:
        self._speeds: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def record(self, model: str, method: str, work: tuple[int, int], seconds: float) -> None:
        """A map of ``method`` on ``model`` that saw ``work`` pictures took ``seconds`` to compute."""
        if not seconds or seconds <= 0:
            return
        speed = seconds / units(work)
        with self._lock:
            old = self._speeds.get((model, method))
            self._speeds[(model, method)] = speed if old is None else (1 - NEWEST) * old + NEWEST * speed

    def estimate(self, model: str, method: str, work: tuple[int, int]) -> Estimate:
        """The seconds ``work`` pictures of ``method`` on ``model`` should take: at this method's measured
        speed, else at any method's on this model, else at the first guess."""
        with self._lock:
            speed = self._speeds.get((model, method))
            if speed is None:
                others = [value for (name, _), value in self._speeds.items() if name == model]
                speed = sum(others) / len(others) if others else None
        if speed is None:
            return Estimate(units(work) * FIRST_GUESS.get(model, DEFAULT_GUESS), False)
        return Estimate(units(work) * speed, True)
