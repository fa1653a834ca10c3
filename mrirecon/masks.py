"""Cartesian undersampling masks.

``create(kind, shape, acceleration, center_fraction, seed)`` returns a boolean ``(H, W)`` array.
1D kinds sample whole columns (the phase-encoding axis is the last one, as in fastMRI); 2D kinds
sample points of the ky-kz plane. Every kind hits the requested acceleration ``H*W / sampled`` as
closely as the matrix allows (the number of samples is fixed first, then the pattern is drawn), so
the achieved acceleration (:func:`acceleration`) is within a few percent even on small matrices.

Centre: ``center_fraction`` of the lines (1D) or of each side (2D) is fully sampled, with at least
16 lines (a 16x16 box in 2D) as long as that takes no more than half of the sampling budget.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

KINDS_1D = ("equispaced", "random", "gaussian1d")
KINDS_2D = ("gaussian2d", "poisson2d")
KINDS = KINDS_1D + KINDS_2D
MIN_CENTER = 16
SIGMA = 0.35  # width of the Gaussian variable-density profile, as a fraction of the half-width


def default_center_fraction(acceleration: float) -> float:
    """fastMRI's pairing: 8 % of the lines at 4x, 4 % at 8x (interpolated in 1/R)."""
    return float(np.clip(0.32 / acceleration, 0.02, 0.5))


def check(kind: str, acceleration, center_fraction=None) -> tuple[str, float, float]:
    """Validate mask parameters; returns ``(kind, acceleration, center_fraction)`` with the default
    centre fraction filled in. Raises ``InputError`` naming the bad parameter."""
    if kind not in KINDS:
        raise InputError(f"unknown mask kind {kind!r}; choose one of {', '.join(KINDS)}", "mask")
    try:
        acceleration = float(acceleration)
    except (TypeError, ValueError):
        raise InputError(f"acceleration must be a number, got {acceleration!r}", "mask") from None
    if not np.isfinite(acceleration) or acceleration < 1:
        raise InputError(f"acceleration must be >= 1, got {acceleration}", "mask")
    if center_fraction is None:
        center_fraction = default_center_fraction(acceleration)
    if not (0 < center_fraction < 1):
        raise InputError(f"center fraction must be in (0, 1), got {center_fraction}", "mask")
    return kind, acceleration, float(center_fraction)


def create(kind: str, shape, acceleration: float, center_fraction: float | None = None,
           seed: int | None = 0) -> np.ndarray:
    """A boolean ``(H, W)`` sampling mask of the given kind (see :data:`KINDS`)."""
    kind, acceleration, center_fraction = check(kind, acceleration, center_fraction)
    h, w = _check_shape(shape)
    rng = np.random.default_rng(seed)
    if acceleration == 1:
        return np.ones((h, w), bool)
    if kind in KINDS_1D:
        lines = _one_d(kind, w, acceleration, center_fraction, rng)
        return np.broadcast_to(lines, (h, w)).copy()
    return _two_d(kind, h, w, acceleration, center_fraction, rng)


def acceleration(mask) -> float:
    """Achieved acceleration ``H*W / number of sampled points`` of a 2D mask."""
    mask = np.asarray(mask, bool)
    n = int(mask.sum())
    return float("inf") if n == 0 else mask.size / n


def is_1d(mask) -> bool:
    """True when every row of the mask is the same (whole phase-encoding lines are sampled)."""
    mask = np.asarray(mask, bool)
    return bool((mask == mask[:1]).all())


def calibration_region(mask) -> tuple[slice, slice]:
    """The largest fully sampled rectangle around the k-space centre ``(H//2, W//2)``.

    For a 1D mask this is all rows by the centre lines. Raises ``InputError`` when the centre
    itself is not sampled.
    """
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    cy, cx = h // 2, w // 2
    if not mask[cy, cx]:
        raise InputError("the k-space centre is not sampled: no calibration region", "mask")
    # candidate row ranges, growing around cy alternately down and up (nested, so a column's
    # gaps only grow): row range a has a rows, top[a - 1]:bottom[a - 1]
    a = np.arange(1, h + 1)
    top = np.maximum(cy - a // 2, 0)
    bottom = np.minimum(top + a, h)
    holes = np.zeros((h + 1, w), np.int32)
    np.cumsum(~mask, axis=0, out=holes[1:])
    full = holes[bottom] == holes[top]  # (range, column): the column is sampled on all its rows
    # ranges up to the first whose centre column has a gap, and up to the first of all H rows
    n = min(int(np.argmin(full[:, cx])) if not full[:, cx].all() else h, int(np.argmax(bottom - top == h)) + 1)
    top, bottom = top[:n], bottom[:n]
    # per range, the columns around cx up to the nearest gap on each side (a gap stands for the
    # edges: column -1 and column w)
    edge = np.ones((n, 1), bool)
    gaps = np.concatenate([edge, ~full[:n], edge], axis=1)  # column j at j + 1
    left = cx - np.argmax(gaps[:, cx::-1], axis=1)  # just after the last gap left of cx
    right = cx + np.argmax(gaps[:, cx + 1:], axis=1)  # the first gap from cx on
    best = int(np.argmax((bottom - top) * (right - left)))  # the first of the largest
    return slice(int(top[best]), int(bottom[best])), slice(int(left[best]), int(right[best]))


# --- internals -------------------------------------------------------------------------------

def _check_shape(shape):
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape must be (H, W), got {shape!r}", "mask") from None
    if h < 4 or w < 4:
        raise InputError(f"shape must be at least 4x4, got {(h, w)}", "mask")
    return h, w


def _center_lines(n: int, budget: int, center_fraction: float) -> int:
    want = max(int(round(n * center_fraction)), min(MIN_CENTER, budget // 2), 1)
    if want > budget:
        raise InputError(f"centre fraction {center_fraction} fully samples {want} of {n} lines, more "
                         f"than the {budget} lines the acceleration allows", "mask")
    return want


def _center_slice(n: int, n_low: int) -> slice:
    start = (n - n_low + 1) // 2  # fastMRI's placement
    return slice(start, start + n_low)


def _weighted_pick(candidates: np.ndarray, weights: np.ndarray, k: int, rng) -> np.ndarray:
    """k distinct candidates, drawn without replacement with probability proportional to weights."""
    if k <= 0:
        return candidates[:0]
    keys = rng.exponential(size=len(candidates)) / np.maximum(weights, 1e-12)
    return candidates[np.argsort(keys, kind="stable")[:k]]


def _one_d(kind, w, acceleration, center_fraction, rng) -> np.ndarray:
    budget = max(int(round(w / acceleration)), 1)
    n_low = _center_lines(w, budget, center_fraction)
    lines = np.zeros(w, bool)
    lines[_center_slice(w, n_low)] = True
    n_out = budget - n_low
    outer = np.flatnonzero(~lines)
    if kind == "equispaced":
        lines |= _equispaced_lattice(w, lines, budget, acceleration, n_low, rng)
    elif kind == "random":
        lines[rng.choice(outer, n_out, replace=False)] = True
    else:  # gaussian1d
        d = (outer - w / 2) / (w / 2)
        lines[_weighted_pick(outer, np.exp(-d ** 2 / (2 * SIGMA ** 2)), n_out, rng)] = True
    return lines


def _equispaced_lattice(w, center, budget, acceleration, n_low, rng) -> np.ndarray:
    """A regular lattice of lines whose union with the centre has exactly ``budget`` lines.

    The spacing starts at fastMRI's (``R (n_low - W) / (n_low R - W)``) and is adjusted until the
    count is exact; the lattice offset is random in ``[0, R)`` as in fastMRI.
    """
    denom = n_low * acceleration - w
    s0 = acceleration * (n_low - w) / denom if denom < 0 else acceleration
    offset = int(rng.integers(0, max(int(round(acceleration)), 1)))
    best, best_key = None, None
    for s in np.concatenate([[s0], np.linspace(0.5 * s0, 2.0 * s0, 601)]):
        if s < 1:
            continue
        lattice = np.zeros(w, bool)
        lattice[np.round(np.arange(offset, w - 0.5, s)).astype(int) % w] = True
        key = (abs(int((lattice | center).sum()) - budget), abs(s - s0))
        if best_key is None or key < best_key:
            best, best_key = lattice, key
        if key[0] == 0 and s == s0:
            break
    return best


def _two_d(kind, h, w, acceleration, center_fraction, rng) -> np.ndarray:
    budget = max(int(round(h * w / acceleration)), 1)
    side = min(MIN_CENTER, int(np.sqrt(budget / 2)))
    ch = max(int(round(h * center_fraction)), side, 1)
    cw = max(int(round(w * center_fraction)), side, 1)
    if ch * cw > budget:
        raise InputError(f"centre fraction {center_fraction} fully samples a {ch}x{cw} box, more "
                         f"than the {budget} points the acceleration allows", "mask")
    mask = np.zeros((h, w), bool)
    mask[_center_slice(h, ch), _center_slice(w, cw)] = True
    n_out = budget - ch * cw
    y, x = np.meshgrid((np.arange(h) - h / 2) / (h / 2), (np.arange(w) - w / 2) / (w / 2), indexing="ij")
    density = np.exp(-(x ** 2 + y ** 2) / (2 * SIGMA ** 2))
    outer = np.flatnonzero(~mask.ravel())
    if kind == "gaussian2d":
        mask.ravel()[_weighted_pick(outer, density.ravel()[outer], n_out, rng)] = True
    else:
        from ._poisson import poisson_disc

        mask |= poisson_disc(density, mask, n_out, rng)
    return mask
