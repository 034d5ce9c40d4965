"""A vectorised One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) over numpy arrays.

Each element of the array is filtered independently: a low-pass whose cutoff rises with the
element's speed, so slow motion is smoothed strongly (less jitter) and fast motion follows
closely (less lag). Time is in seconds; `min_cutoff` and `d_cutoff` in Hz; `beta` in s/unit.

Two additions to the published filter: a per-sample `weight` (partial evidence moves the state
less; 0 holds it), and `lead`, a constant-velocity correction of the low-pass's lag: a first-order
low-pass with smoothing factor a trails a ramp of speed v by v dt (1 - a) / a, and the filter's
speed estimate (taken against its own last output, as published) settles at v / a, so the output
adds dx dt (1 - a) times `lead`.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of an array of fixed shape, sampled at irregular times.

    `speed_norm_axis`: when given, the cutoff of each vector along that axis uses the vector's
    speed norm (e.g. a 3D point filtered as one, not per coordinate). `lead` in [0, 1]: the
    fraction of the low-pass's ramp lag added back from the filtered speed (0: the plain filter).
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.5, d_cutoff: float = 1.0,
                 speed_norm_axis: int | None = None, lead: float = 0.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.speed_norm_axis = speed_norm_axis
        self.lead = float(lead)
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def reset(self) -> None:
        self.x = self.dx = self.t = None

    def __call__(self, x: np.ndarray, t: float, weight: float = 1.0) -> np.ndarray:
        """Filter sample `x` taken at time `t` (seconds) and counted with `weight` in [0, 1];
        returns the filtered array."""
        x = np.asarray(x, dtype=np.float64)
        if self.x is None or self.t is None or t <= self.t:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self.t
        dx = (x - self.x) / dt
        self.dx = self.dx + weight * _alpha(self.d_cutoff, dt) * (dx - self.dx)
        speed = np.abs(self.dx)
        if self.speed_norm_axis is not None:
            speed = np.linalg.norm(self.dx, axis=self.speed_norm_axis, keepdims=True)
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self.x = self.x + weight * a * (x - self.x)
        self.t = t
        if self.lead:
            return self.x + self.lead * self.dx * dt * (1.0 - a)
        return self.x.copy()
