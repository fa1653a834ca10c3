"""Variable-density Poisson-disc sampling on the Cartesian grid (used by ``masks.create``).

Greedy dart throwing over the grid in random order: a point is accepted when no accepted point
lies closer than its local radius ``alpha / sqrt(density)``. ``alpha`` is found by bisection so
that the pattern has the requested number of points; the last few points are then added or removed
at random so the count is exact. The inner loop is compiled with numba (a dependency of sigpy).
"""
from __future__ import annotations

import numpy as np


def _greedy_py(order, radius, free, h, w):  # compiled by numba on first use
    taken = np.zeros((h, w), np.bool_)
    count = 0
    for i in range(order.shape[0]):
        p = order[i]
        y, x = p // w, p % w
        if not free[y, x]:
            continue
        r = radius[y, x]
        ri = int(np.ceil(r))
        ok = True
        for yy in range(max(y - ri, 0), min(y + ri + 1, h)):
            for xx in range(max(x - ri, 0), min(x + ri + 1, w)):
                if taken[yy, xx] and (yy - y) ** 2 + (xx - x) ** 2 < r * r:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            taken[y, x] = True
            count += 1
    return taken, count


_greedy = None


def _compiled():
    global _greedy
    if _greedy is None:
        try:
            import numba

            _greedy = numba.njit(cache=True)(_greedy_py)
        except Exception:  # numba missing or unusable: slow but correct
            _greedy = _greedy_py
    return _greedy


def poisson_disc(density: np.ndarray, exclude: np.ndarray, n_points: int, rng) -> np.ndarray:
    """``n_points`` grid points outside ``exclude``, Poisson-disc spaced with local ``density``."""
    h, w = density.shape
    greedy = _compiled()
    free = ~exclude
    order = rng.permutation(h * w)
    base = 1.0 / np.sqrt(np.maximum(density, 1e-6))
    lo, hi = 0.0, float(np.sqrt(h * w / max(n_points, 1))) * 2.0
    best = None
    for _ in range(30):
        alpha = (lo + hi) / 2
        taken, count = greedy(order, alpha * base, free, h, w)
        if count >= n_points:
            lo, best = alpha, taken
        else:
            hi = alpha
        if best is not None and count - n_points <= max(2, n_points // 200) and count >= n_points:
            break
    if best is None:  # even alpha -> 0 cannot place enough: take every free point
        best = free.copy()
    extra = int(best.sum()) - n_points
    idx = np.flatnonzero(best.ravel())
    if extra > 0:
        best.ravel()[rng.choice(idx, extra, replace=False)] = False
    elif extra < 0:
        pool = np.flatnonzero((free & ~best).ravel())
        best.ravel()[rng.choice(pool, -extra, replace=False)] = True
    return best
