import numpy as np
import pytest

import mrirecon
from mrirecon.coils import rss
from mrirecon.errors import InputError
from mrirecon.fft import ifft2c
from mrirecon.simulate import SimConfig, simulate, write


def _tissue_means(acq, cfg):
    from mrirecon import anatomy

    slab = anatomy.slab(cfg.slices, cfg.size, np.random.default_rng(cfg.seed), gap_mm=cfg.gap_mm,
                        lesions=cfg.lesions, deform=cfg.deform)
    img = np.abs(acq.image)
    ch = slab.channels
    out = {t: img[(ch[t] > 0.9) & (acq.lesion_mask == 0)].mean() for t in ("gm", "wm", "csf")}
    if (acq.lesion_mask > 0).any():
        out["lesion"] = img[acq.lesion_mask > 0].mean()
    return out


@pytest.mark.parametrize("contrast, order", [("t1w", ("wm", "gm", "csf")), ("t2w", ("csf", "gm", "wm")),
                                             ("flair", ("gm", "wm", "csf"))])
def test_tissue_contrast(contrast, order):
    cfg = SimConfig(contrast=contrast, size=96, coils=2, slices=2, lesions=4, seed=11)
    means = _tissue_means(simulate(cfg), cfg)
    assert means[order[0]] > means[order[1]] > means[order[2]]
    if contrast == "t1w":
        assert means["lesion"] < means["wm"]
    else:
        assert means["lesion"] > means["wm"]


def test_deterministic_and_consistent(tmp_path):
    cfg = SimConfig(contrast="t2w", size=64, coils=3, slices=2, lesions=2, seed=5)
    a, b = simulate(cfg), simulate(cfg)
    assert np.array_equal(a.kspace, b.kspace) and np.array_equal(a.lesion_mask, b.lesion_mask)
    np.testing.assert_allclose(a.target, rss(ifft2c(a.kspace)), rtol=1e-5, atol=1e-6)
    assert a.kspace.shape == (2, 3, 64, 64) and a.kspace.dtype == np.complex64
    assert not np.array_equal(a.kspace, simulate(SimConfig(**{**cfg.__dict__, "seed": 6})).kspace)
    p1, p2 = write(tmp_path / "1", cfg), write(tmp_path / "2", cfg)
    assert p1.read_bytes() == p2.read_bytes()  # bit-for-bit files


def test_lesions_are_sized_and_in_white_matter(small_acq):
    labels = small_acq.lesion_mask
    assert labels.max() >= 1
    voxel = small_acq.attrs["voxel_mm"]
    for lab in range(1, labels.max() + 1):
        area = (labels == lab).sum(axis=(1, 2)).max() * voxel ** 2
        assert area <= np.pi * 5.5 ** 2  # at most a 10 mm disc (+ a pixel of resampling)


def test_noise_level_matches_snr():
    cfg = SimConfig(contrast="t1w", size=64, coils=4, slices=1, seed=3, snr=20)
    acq = simulate(cfg)
    corner = acq.kspace[..., :8, :8]  # outer k-space: noise only
    assert np.std(corner) == pytest.approx(acq.noise_std, rel=0.2)


def test_file_layout(tmp_path):
    path = write(tmp_path, SimConfig(contrast="flair", size=64, coils=2, slices=2, lesions=2, seed=1))
    scan = mrirecon.load(path)
    assert scan.kspace.shape == (2, 2, 64, 64) and scan.target.shape == (2, 64, 64)
    assert scan.lesion_mask is not None and scan.attrs["acquisition"] == "AXFLAIR"


def test_bad_config():
    with pytest.raises(InputError, match="unknown contrast"):
        simulate(SimConfig(contrast="dwi"))
    with pytest.raises(InputError, match="coils"):
        simulate(SimConfig(coils=0))
    with pytest.raises(InputError, match="fov_mm"):
        simulate(SimConfig(fov_mm=100))


def test_smaller_field_of_view_enlarges_the_head():
    def head_fraction(fov):
        acq = simulate(SimConfig(size=64, coils=2, slices=1, seed=4, snr=1e4, fov_mm=fov, deform=False))
        img = acq.target[0]
        return float((img > 0.1 * img.max()).mean())

    wide, tight = head_fraction(240), head_fraction(205)
    # the head's area grows with the square of the zoom (240 / 205)^2 = 1.37; the scalp band is drawn
    # at a fixed mm distance, so the ratio is close to it
    assert 1.25 < tight / wide < 1.5, (wide, tight)


def test_sharpen_adds_fine_structure_only():
    """``sharpen`` raises the image's power at high spatial frequencies (the template is smoother
    than a real brain) and leaves the coarse image and the random draws as they were."""
    def image(amount):
        cfg = SimConfig(size=96, coils=2, slices=1, seed=5, sharpen=amount)
        return np.abs(simulate(cfg).image[0]).astype(np.float64)

    def high_share(img):
        power = np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2
        y, x = np.indices(img.shape) - img.shape[0] // 2
        return power[np.hypot(y, x) > 0.35 * img.shape[0] / 2].sum() / power.sum()

    plain, sharp = image(0.0), image(2.0)
    assert high_share(sharp) > 2 * high_share(plain)
    assert np.corrcoef(plain.ravel(), sharp.ravel())[0, 1] > 0.9  # the same subject
    with pytest.raises(InputError, match="sharpen"):
        simulate(SimConfig(sharpen=-1))


def test_scalp_layers_change_only_the_head_outside_the_brain():
    """``scalp="layers"`` draws the thin layers of a real head (bright CSF, diploe and fat between
    dark bone) where ``"bands"`` draws one soft scalp band: the brain, its texture and bias field stay
    as they were, and outside it the image holds more fine structure."""
    from mrirecon import anatomy
    from mrirecon.simulate import HEAD_LAYERS, TISSUE, contrast_image, head_layers

    slab = anatomy.slab(1, 128, np.random.default_rng(3), fov_mm=220)
    dist = slab.channels["dist"]
    bands = contrast_image(slab, "t2w", np.random.default_rng(5), 0.0, "bands")
    layers = contrast_image(slab, "t2w", np.random.default_rng(5), 0.0, "layers", np.random.default_rng(6))
    brain = dist == 0
    assert np.abs(bands - layers)[brain].max() < 0.02 < np.abs(bands - layers)[~brain].max()

    def high_share(img):
        power = np.abs(np.fft.fftshift(np.fft.fft2(img[0]))) ** 2
        y, x = np.indices(img.shape[1:]) - img.shape[1] // 2
        return power[np.hypot(y, x) > 0.5 * img.shape[1] / 2].sum() / power.sum()

    assert high_share(layers) > 1.5 * high_share(bands)
    # along a fine ray out of the brain: the layers in their order, bright ones between dark bone
    ray = np.linspace(0, 30, 3000, dtype=np.float32)[None, None].repeat(2, 1)
    profile = head_layers(ray, TISSUE["t2w"], 0.01, np.random.default_rng(1))[0, 0]
    peaks = np.flatnonzero((profile[1:-1] > profile[:-2]) & (profile[1:-1] >= profile[2:]) & (profile[1:-1] > 0.1))
    assert len(peaks) >= 3 and profile[0] == 0 and profile[-1] < 1e-3  # CSF, diploe, fat (and skin)
    assert profile.max() <= max(TISSUE["t2w"][base] * hi for _, _, base, (_, hi) in HEAD_LAYERS) + 1e-6
    with pytest.raises(InputError, match="scalp"):
        simulate(SimConfig(scalp="helmet"))


def test_coil_phase_changes_only_the_phase_of_the_maps_and_helps_unfolding():
    """``coil_phase`` multiplies each coil's map by a smooth phase field of its own: magnitudes,
    object and noise level stay as they were, and the phase diversity lowers the SENSE g-factor
    (birdcage maps alone unfold 4 coils at R = 4 badly)."""
    from mrirecon.coils import g_factor, rss

    def acq(phase):
        return simulate(SimConfig(size=96, coils=4, slices=1, seed=2, coil_phase=phase))

    plain, phased = acq(0.0), acq(3.0)
    assert np.allclose(np.abs(plain.sens), np.abs(phased.sens), atol=1e-6)
    assert np.array_equal(plain.image, phased.image) and plain.noise_std == phased.noise_std
    assert np.abs(np.angle(phased.sens * plain.sens.conj())).max() > 1.0

    def mean_g(a):
        s = a.sens[0] / np.maximum(rss(a.sens[0]), 1e-6)
        return g_factor(s, 4)[a.target[0] > 0.1 * a.target.max()].mean()

    assert mean_g(phased) < 0.8 * mean_g(plain), (mean_g(plain), mean_g(phased))
    with pytest.raises(InputError, match="coil_phase"):
        simulate(SimConfig(coil_phase=-1))
