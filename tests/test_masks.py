import numpy as np
import pytest

from mrirecon import masks
from mrirecon.errors import InputError


@pytest.mark.parametrize("kind", masks.KINDS)
@pytest.mark.parametrize("shape", [(96, 96), (256, 256), (320, 368)])
@pytest.mark.parametrize("accel", [4, 8])
def test_acceleration_within_5_percent(kind, shape, accel):
    m = masks.create(kind, shape, accel, seed=3)
    assert m.shape == shape and m.dtype == bool
    assert abs(masks.acceleration(m) - accel) / accel <= 0.05


@pytest.mark.parametrize("kind", masks.KINDS)
def test_deterministic_and_seeded(kind):
    a = masks.create(kind, (96, 96), 6, seed=5)
    b = masks.create(kind, (96, 96), 6, seed=5)
    c = masks.create(kind, (96, 96), 6, seed=6)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", masks.KINDS_1D)
def test_1d_centre_and_calibration_region(kind):
    m = masks.create(kind, (128, 200), 4, center_fraction=0.08, seed=0)
    assert masks.is_1d(m)
    rows, cols = masks.calibration_region(m)
    assert (rows.start, rows.stop) == (0, 128)
    assert cols.stop - cols.start >= 16  # round(0.08 * 200) = 16 centre lines at least
    assert m[:, cols].all()


@pytest.mark.parametrize("kind", masks.KINDS_2D)
def test_2d_has_fully_sampled_centre(kind):
    m = masks.create(kind, (256, 256), 8, seed=0)
    assert not masks.is_1d(m)
    rows, cols = masks.calibration_region(m)
    assert rows.stop - rows.start >= 16 and cols.stop - cols.start >= 16
    # variable density: the inner disc is sampled more densely than the periphery
    y, x = np.mgrid[-128:128, -128:128] / 128
    r = np.hypot(y, x)
    assert m[(r > 0.2) & (r < 0.4)].mean() > 2 * m[r > 0.7].mean()


def test_equispaced_lines_are_regular():
    m = masks.create("equispaced", (256, 256), 4, center_fraction=0.08, seed=0)
    _, cols = masks.calibration_region(m)
    lines = np.flatnonzero(m[0])
    gaps = np.diff(lines[lines < cols.start])
    assert len(gaps) > 10 and gaps.max() - gaps.min() <= 1  # a rounded lattice


def _region_by_growing_rows(m):
    """The definition of ``calibration_region`` written as a plain loop: grow the row range around
    the centre alternately down and up; per range, the widest run of fully sampled columns through
    the centre; the first range of the largest area."""
    h, w = m.shape
    cy, cx = h // 2, w // 2
    best, best_area = None, 0
    for a in range(1, h + 1):
        top = max(cy - a // 2, 0)
        bottom = min(top + a, h)
        cols = m[top:bottom].all(axis=0)
        if not cols[cx]:
            break
        left, right = cx, cx + 1
        while left > 0 and cols[left - 1]:
            left -= 1
        while right < w and cols[right]:
            right += 1
        if (bottom - top) * (right - left) > best_area:
            best, best_area = (slice(top, bottom), slice(left, right)), (bottom - top) * (right - left)
        if bottom - top == h:
            break
    return best


@pytest.mark.parametrize("shape", [(64, 48), (17, 33), (1, 5), (5, 1), (2, 2)])
def test_calibration_region_matches_its_definition(shape):
    rng = np.random.default_rng(sum(shape))
    for trial in range(60):
        m = rng.random(shape) < rng.uniform(0.3, 0.99)
        if trial % 3 == 0:  # a sampled block plus scattered samples, like a calibrated mask
            r0, r1 = sorted(rng.integers(0, shape[0] + 1, 2))
            c0, c1 = sorted(rng.integers(0, shape[1] + 1, 2))
            m[r0:r1 + 1, c0:c1 + 1] = True
        m[shape[0] // 2, shape[1] // 2] = True
        rows, cols = masks.calibration_region(m)
        assert (rows, cols) == _region_by_growing_rows(m)
        assert m[rows, cols].all()


def test_calibration_region_rejects_unsampled_centre():
    m = np.ones((32, 32), bool)
    m[16, 16] = False
    with pytest.raises(InputError, match="centre"):
        masks.calibration_region(m)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="spiral", shape=(64, 64), acceleration=4), "unknown mask kind"),
    (dict(kind="random", shape=(64, 64), acceleration=0.5), "acceleration must be >= 1"),
    (dict(kind="random", shape=(64, 64), acceleration=4, center_fraction=0), r"center fraction"),
    (dict(kind="random", shape=(64, 64), acceleration=4, center_fraction=1.2), r"center fraction"),
    (dict(kind="random", shape=(64,), acceleration=4), "shape must be"),
    (dict(kind="gaussian2d", shape=(64, 64), acceleration=8, center_fraction=0.5), "more than"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        masks.create(**kwargs)


def test_acceleration_one_is_full():
    assert masks.create("poisson2d", (32, 32), 1).all()
