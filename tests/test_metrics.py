import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mrirecon import metrics
from mrirecon.errors import InputError


def test_matches_direct_skimage_on_random_volumes(rng):
    gt = rng.random((3, 40, 36)) * 5
    pred = gt + 0.3 * rng.standard_normal(gt.shape)
    dr = gt.max()
    ssim = np.mean([structural_similarity(gt[i], pred[i], data_range=dr) for i in range(3)])
    assert metrics.ssim(gt, pred) == pytest.approx(ssim, abs=1e-12)
    assert metrics.psnr(gt, pred) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=dr), abs=1e-12)
    assert metrics.nmse(gt, pred) == pytest.approx(np.sum((gt - pred) ** 2) / np.sum(gt ** 2), rel=1e-12)


def test_ssim_uses_the_volume_max_not_the_slice_max(rng):
    gt = rng.random((2, 32, 32))
    gt[1] *= 10  # slice 0 is dim: its SSIM must use the volume's data range
    pred = gt + 0.05 * rng.standard_normal(gt.shape)
    per_slice_max = np.mean([structural_similarity(g, p, data_range=g.max()) for g, p in zip(gt, pred)])
    assert metrics.ssim(gt, pred) != pytest.approx(per_slice_max, abs=1e-3)


def test_prediction_is_centre_cropped(rng):
    gt = rng.random((1, 20, 20))
    pred = np.zeros((1, 30, 26))
    pred[:, 5:25, 3:23] = gt
    assert metrics.nmse(gt, pred) == 0
    with pytest.raises(InputError, match="cannot crop"):
        metrics.nmse(np.zeros((1, 40, 40)), pred)


def test_lesion_contrast_known_answer():
    img = np.full((10, 10), 2.0)
    img[:5] += np.array([0, 1] * 5)  # reference region with std 0.5
    lesion = np.zeros((10, 10), bool)
    lesion[8, 8] = True
    img[8, 8] = 5.0
    ref = np.zeros((10, 10), bool)
    ref[:5] = True
    out = metrics.lesion_contrast(img, lesion, ref)
    assert out["reference_mean"] == pytest.approx(2.5)
    assert out["contrast"] == pytest.approx((5 - 2.5) / 2.5)
    assert out["cnr"] == pytest.approx((5 - 2.5) / 0.5)
    assert metrics.contrast_preservation(0.5, 1.0) == 0.5
    with pytest.raises(InputError, match="empty"):
        metrics.lesion_contrast(img, np.zeros_like(lesion), ref)
