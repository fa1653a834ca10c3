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
