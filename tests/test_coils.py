import numpy as np
import pytest

from mrirecon import coils, masks, metrics
from mrirecon.errors import InputError
from mrirecon.fft import ifft2c


def _true_unit_maps(acq):
    s = acq.sens
    return s / np.sqrt((np.abs(s) ** 2).sum(-3, keepdims=True))


@pytest.mark.parametrize("estimator", coils.ESTIMATORS)
@pytest.mark.parametrize("kind", ["equispaced", "gaussian2d"])
def test_maps_match_truth_inside_object(small_acq, estimator, kind):
    m = masks.create(kind, small_acq.kspace.shape[-2:], 4, seed=0)
    est = coils.estimate(small_acq.kspace * m, m, estimator)
    assert est.shape == small_acq.kspace.shape and est.dtype == np.complex64
    corr = np.abs((est.conj() * _true_unit_maps(small_acq)).sum(-3))
    inside = np.abs(small_acq.image) > 0.3 * np.abs(small_acq.image).max()
    assert corr[inside].mean() > (0.99 if estimator == "espirit" else 0.97)


def test_espirit_maps_have_unit_rss_everywhere_uncropped(small_acq):
    est = coils.espirit(small_acq.kspace, crop=0)
    np.testing.assert_allclose(coils.rss(est), 1.0, atol=1e-4)


def test_espirit_crop_keeps_the_object_and_drops_background(real_scan):
    """Default maps: unit RSS inside the ESPIRiT support, zero outside; the support holds every
    bright pixel of the reference and leaves out a real part of the background."""
    norm = coils.rss(coils.espirit(real_scan.kspace))[0]
    inside = norm > 0
    np.testing.assert_allclose(norm[inside], 1.0, atol=1e-4)
    assert inside[real_scan.target[0] > 0.1 * real_scan.target.max()].all()
    assert 0.1 < 1 - inside.mean() < 0.6


def test_espirit_in_row_tiles_equals_one_tile(small_acq, monkeypatch):
    """The power iteration runs over tiles of rows (``TILE_BYTES``): per pixel it is the same
    arithmetic, so tiles of one row, of an odd count and the whole image give the same maps."""
    k = small_acq.kspace[:1]
    whole = coils.espirit(k, crop=0)
    for rows in (1, 7):
        c, _, w = k.shape[-3:]
        monkeypatch.setattr(coils, "TILE_BYTES", rows * c * c * w * 8)
        np.testing.assert_array_equal(coils.espirit(k, crop=0), whole)


def test_espirit_does_not_crop_from_a_narrow_calibration(small_acq):
    """Five centre lines for a 6-wide kernel: the eigenvalue map is unreliable, nothing is cropped."""
    k = small_acq.kspace[:1]
    m = np.zeros(k.shape[-2:], bool)
    w = m.shape[1]
    m[:, w // 2 - 2:w // 2 + 3] = True
    m[:, ::3] = True
    assert (coils.rss(coils.espirit(k * m, m)) > 0).all()


def test_espirit_accepts_rectangular_acs(small_acq):
    m = masks.create("equispaced", small_acq.kspace.shape[-2:], 4, center_fraction=0.1, seed=0)
    rows, cols = masks.calibration_region(m)
    assert rows.stop - rows.start > cols.stop - cols.start  # all rows x few centre lines
    coils.espirit(small_acq.kspace * m, m)


def test_noise_variance_estimate(small_acq):
    var = coils.noise_variance(small_acq.kspace)
    assert 0.8 < var / small_acq.noise_std ** 2 < 1.25


def test_noise_variance_with_variable_density_masks(small_acq):
    """2D variable-density masks sample the periphery sparsely: the estimate must still come from
    the periphery (a share of the sampled points reached inwards: 1.29-1.57x the truth here)."""
    truth = small_acq.noise_std ** 2
    ratios = [coils.noise_variance(small_acq.kspace * m, m) / truth
              for kind, r in (("gaussian2d", 8), ("poisson2d", 10)) for seed in range(3)
              for m in [masks.create(kind, small_acq.kspace.shape[-2:], r, seed=seed)]]
    assert 0.8 < min(ratios) and np.mean(ratios) < 1.25, ratios


def test_sense_combination_on_real_scan(real_scan):
    """Fully sampled real 4-coil data, uncropped ESPIRiT maps: SENSE combination vs the RSS
    reference (GUIDE §9: uncropped maps reproduce the reference's background)."""
    k = real_scan.kspace
    maps = coils.espirit(k, crop=0)
    combined = coils.sense_combine(ifft2c(k), maps)
    plain = metrics.ssim(real_scan.target, np.abs(combined))
    on_rss_scale = coils.rss_floor(combined, coils.noise_variance(k), k.shape[1])
    ssim = metrics.ssim(real_scan.target, on_rss_scale)
    assert ssim >= 0.95, ssim
    assert plain > 0.9  # the object itself matches; the background differs by the RSS noise floor
    assert plain < ssim


def test_bad_inputs():
    with pytest.raises(InputError, match="complex"):
        coils.espirit(np.ones((2, 16, 16)))
    with pytest.raises(InputError, match="mask shape"):
        coils.espirit(np.ones((2, 16, 16), np.complex64), np.ones((8, 8), bool))
    with pytest.raises(InputError, match="unknown sensitivity estimator"):
        coils.estimate(np.ones((2, 16, 16), np.complex64), None, "magic")


def test_g_factor_by_hand():
    """Two coils, R = 2: at each pair of folded pixels the coils see (1, 1) and (1, 0.5); the Gram
    matrix [[2, 1.5], [1.5, 1.25]] has the inverse [[5, -6], [-6, 8]], so g = sqrt(5 * 2) =
    sqrt(8 * 1.25) = sqrt(10). Orthogonal coil patterns (1, 1) and (1, -1) unfold without loss (g = 1)."""
    h, w = 3, 8
    sens = np.ones((2, h, w), np.complex64)
    sens[1, :, w // 2:] = 0.5
    assert np.allclose(coils.g_factor(sens, 2), np.sqrt(10), rtol=1e-5)
    sens[1, :, w // 2:] = -1
    assert np.allclose(coils.g_factor(sens, 2), 1, rtol=1e-5)
    assert np.allclose(coils.g_factor(sens, 1), 1, rtol=1e-5)  # nothing folds
    with pytest.raises(InputError, match="multiple"):
        coils.g_factor(sens, 3)


def test_compression_with_all_coils_is_unitary(small_acq):
    k = small_acq.kspace
    c = coils.compress(k, k.shape[-3])
    assert c.kspace.shape == k.shape and c.kspace.dtype == np.complex64 and c.energy == pytest.approx(1.0)
    np.testing.assert_allclose(c.matrix @ c.matrix.conj().T, np.eye(k.shape[-3]), atol=1e-5)
    np.testing.assert_allclose(coils.rss_from_kspace(c.kspace), coils.rss_from_kspace(k), rtol=1e-4, atol=1e-6)


def test_compression_keeps_the_strongest_components_by_hand(rng):
    """Two source signals mixed into 5 coils (a known unitary mixing) plus tiny noise: 2 virtual
    coils keep all but the noise, and span the same coil space as the mixing's first columns."""
    src = rng.standard_normal((2, 1, 2, 8, 8)) + 1j * rng.standard_normal((2, 1, 2, 8, 8))
    src[:, :, 1] *= 0.3  # distinct energies, so the components are determined
    mix, _ = np.linalg.qr(rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5)))
    k = np.einsum("cd,sxdhw->sxchw", mix[:, :2], src)[:, 0]
    k = k + 1e-6 * rng.standard_normal(k.shape)
    c = coils.compress(k, 2)
    assert c.kspace.shape == (2, 2, 8, 8) and c.energy > 1 - 1e-9
    # the rows of the matrix span the coil subspace of the signals: projecting back reproduces the data
    back = np.einsum("nc,snhw->schw", c.matrix.conj(), c.kspace)
    np.testing.assert_allclose(back, k, atol=1e-4)
    # one virtual coil keeps the top eigenvalue's share of the sources' Gram matrix (by hand: 2 x 2)
    a = src[:, 0].transpose(1, 0, 2, 3).reshape(2, -1)
    gram = a @ a.conj().T
    assert coils.compress(k, 1).energy == pytest.approx(np.linalg.eigvalsh(gram).max() / np.trace(gram).real,
                                                        rel=1e-5)


def test_compression_rejects_bad_counts(small_acq):
    for n in (0, small_acq.kspace.shape[-3] + 1, 2.5, True):
        with pytest.raises(InputError, match="virtual coils must be a whole number from 1 to the data's 6 coils"):
            coils.compress(small_acq.kspace, n, "scan.h5")


@pytest.mark.parametrize("method", ["sense", "zero-filled"])
def test_reconstruction_from_virtual_coils(small_acq, method):
    """All coils as virtual ones: the same image (given maps compressed with the data's matrix).
    Four of six: close in SSIM, and the background keeps the acquisition's RSS noise floor."""
    from mrirecon import reconstruct

    m = masks.create("equispaced", small_acq.kspace.shape[-2:], 2, seed=0)
    sens = _true_unit_maps(small_acq)
    full = reconstruct(small_acq.kspace * m, m, method, sens=sens, device="cpu")
    six = reconstruct(small_acq.kspace * m, m, method, sens=sens, device="cpu", virtual_coils=6)
    np.testing.assert_allclose(six, full, rtol=1e-4, atol=1e-5 * full.max())
    four = reconstruct(small_acq.kspace * m, m, method, sens=sens, device="cpu", virtual_coils=4)
    assert four.shape == full.shape
    assert metrics.ssim(small_acq.target, four) > metrics.ssim(small_acq.target, full) - 0.01
    background = np.abs(small_acq.image) < 0.05 * np.abs(small_acq.image).max()
    assert four[background].mean() == pytest.approx(full[background].mean(), rel=0.02)
