"""Better samples, fewer of them: the random numbers the sampling methods draw, plain or evenly spread.

- ``gaussian_noise``: SmoothGrad's noise; ``"antithetic"`` draws each ε together with −ε (Hammersley &
  Morton 1956), so the odd part of the gradient's response to noise cancels exactly in every pair.
- ``uniform_points``: points in the unit cube for RISE's masks, LIME's on/off patterns and expected
  gradients' (baseline, point on the path) pairs; ``"sobol"`` takes a scrambled Sobol sequence (Owen
  1998; ``scipy.stats.qmc``), whose every prefix of 2^k points covers the cube evenly, where
  independent draws leave clumps and holes.

Every sampler is seeded: the same seed gives the same numbers, another seed other ones.
"""

from __future__ import annotations

import warnings

import numpy as np

#: what each family may draw with ("plain": independent pseudo-random numbers, as the papers did)
NOISE_SAMPLERS = ("plain", "antithetic")
POINT_SAMPLERS = ("plain", "sobol")


def gaussian_noise(rng: np.random.Generator, count: int, shape: tuple[int, ...], sampler: str) -> np.ndarray:
    """``count`` standard normal float32 arrays of ``shape``. Antithetic: rows 2k and 2k + 1 are ε and −ε
    (an odd count ends on an unpaired ε), so any even prefix of the rows sums to exactly zero."""
    if sampler == "plain":
        return rng.standard_normal((count, *shape), dtype=np.float32)
    if sampler != "antithetic":
        raise ValueError(f"unknown noise sampler {sampler!r}; choose one of {NOISE_SAMPLERS}")
    half = rng.standard_normal(((count + 1) // 2, *shape), dtype=np.float32)
    return np.stack([half, -half], axis=1).reshape(-1, *shape)[:count]


def uniform_points(count: int, dims: int, sampler: str, seed: int) -> np.ndarray:
    """``count`` points (count, dims) in [0, 1): independent (plain) or a scrambled Sobol sequence."""
    if sampler == "plain":
        return np.random.default_rng(seed).random((count, dims))
    if sampler != "sobol":
        raise ValueError(f"unknown point sampler {sampler!r}; choose one of {POINT_SAMPLERS}")
    from scipy.stats import qmc

    with warnings.catch_warnings():  # a count that is no power of two is fine: every prefix is still even
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(dims, scramble=True, rng=np.random.default_rng(seed)).random(count)


__all__ = ["NOISE_SAMPLERS", "POINT_SAMPLERS", "gaussian_noise", "uniform_points"]
