import numpy as np
import pytest
import torch

from mrirecon import wavelets

pywt = pytest.importorskip("pywt")


# the last two reach wavelets.BANDED_FROM along both axes: the banded level products
@pytest.mark.parametrize("mode, shape", [("zero", (64, 40)), ("zero", (45, 37)), ("periodization", (64, 40)),
                                         ("zero", (131, 129)), ("periodization", (128, 160))])
def test_dwt_equals_pywavelets(mode, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    blocks = wavelets.dwt(torch.from_numpy(x), 2, mode=mode)
    ref = pywt.wavedec2(x, "db4", mode=mode, level=2)
    h, w = (n // 2 for n in blocks[-1].shape)
    np.testing.assert_allclose(blocks[-1][:h, :w].numpy(), ref[0], atol=1e-12)
    for c, (ch, cv, cd) in zip(blocks[::-1], ref[1:]):  # coarsest level first
        h, w = (n // 2 for n in c.shape)
        np.testing.assert_allclose(c[h:, :w].numpy(), ch, atol=1e-12)  # high-pass along H
        np.testing.assert_allclose(c[:h, w:].numpy(), cv, atol=1e-12)
        np.testing.assert_allclose(c[h:, w:].numpy(), cd, atol=1e-12)
    np.testing.assert_allclose(wavelets.idwt(blocks, shape, mode=mode).numpy(), x, atol=1e-12)


def test_banded_level_equals_its_matrix():
    """The banded form of every level matrix (analysis and synthesis, both modes, even and odd
    lengths) applies exactly the matrix, along either axis."""
    rng = np.random.default_rng(3)
    for n, mode in [(128, "zero"), (131, "zero"), (256, "zero"), (128, "periodization"), (200, "periodization")]:
        for matrix in wavelets._level_matrices(n, "db4", mode):
            op = wavelets._AxisOp(matrix, torch.zeros((), dtype=torch.float64))
            assert not op.dense
            x = torch.from_numpy(rng.standard_normal((2, matrix.shape[1], 7)))
            np.testing.assert_allclose(op.along_h(x).numpy(), matrix @ x.numpy(), atol=1e-12)
            np.testing.assert_allclose(op.along_w(x.mT).numpy(), x.mT.numpy() @ matrix.T, atol=1e-12)


@pytest.mark.parametrize("wavelet, shape, levels", [("db4", (64, 48), 3), ("haar", (32, 32), 5), ("db2", (16, 8), 1)])
def test_periodised_dwt_is_orthonormal(wavelet, shape, levels):
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((3, *shape)))
    blocks = wavelets.dwt(x, levels, wavelet, "periodization")
    energy = sum(float(c.pow(2).sum()) for c in blocks[:-1]) - sum(
        float(c[..., : c.shape[-2] // 2, : c.shape[-1] // 2].pow(2).sum()) for c in blocks[:-1])
    energy += float(blocks[-1].pow(2).sum())  # every coefficient once
    np.testing.assert_allclose(energy, float(x.pow(2).sum()), rtol=1e-12)
    np.testing.assert_allclose(wavelets.idwt(blocks, shape, wavelet, "periodization").numpy(), x.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="even lengths"):
        wavelets.dwt(x[..., :-1], levels, wavelet, "periodization")


def _objective(u, v, t, levels):
    blocks = wavelets.dwt(torch.cat([u.real, u.imag]), levels, mode="periodization")
    b, l1 = u.shape[0], 0.0
    for j, c in enumerate(blocks):
        mag = torch.sqrt(c[:b] ** 2 + c[b:] ** 2)
        if j + 1 < len(blocks):
            mag[..., : c.shape[-2] // 2, : c.shape[-1] // 2] = 0  # transformed further
        l1 += float(mag.sum())
    return 0.5 * float((u - v).abs().pow(2).sum()) + t * l1


def test_soft_threshold_prox_minimises_its_objective():
    """With orthonormal wavelets prox(v) minimises 1/2 ||u - v||^2 + t ||W u||_1: no perturbation
    does better; threshold 0 is the identity, one per image applies to that image only; a shift is
    undone."""
    rng = np.random.default_rng(2)
    v = torch.from_numpy(rng.standard_normal((1, 32, 32)) + 1j * rng.standard_normal((1, 32, 32)))
    t, levels = 0.3, 2
    u = wavelets.soft_threshold_prox(v, t, levels, mode="periodization")
    best = _objective(u, v, t, levels)
    for _ in range(20):
        du = torch.from_numpy(rng.standard_normal(u.shape) + 1j * rng.standard_normal(u.shape)) * 1e-2
        assert _objective(u + du, v, t, levels) > best
    for mode in wavelets.MODES:
        np.testing.assert_allclose(wavelets.soft_threshold_prox(v, 0.0, levels, mode=mode).numpy(), v.numpy(),
                                   atol=1e-12)
    out = wavelets.soft_threshold_prox(torch.cat([v, v]), torch.tensor([0.0, 1e6]), levels)
    np.testing.assert_allclose(out[0].numpy(), v[0].numpy(), atol=1e-12)
    assert float(out[1].abs().max()) == 0
    shifted = wavelets.soft_threshold_prox(v, t, levels, shift=(3, 1))
    expect = torch.roll(wavelets.soft_threshold_prox(torch.roll(v, (3, 1), (-2, -1)), t, levels), (-3, -1), (-2, -1))
    np.testing.assert_allclose(shifted.numpy(), expect.numpy(), atol=1e-12)
    assert float((shifted - wavelets.soft_threshold_prox(v, t, levels)).abs().max()) > 1e-3  # not shift invariant


def test_prox_gradient_is_finite_at_zero_coefficients():
    """Training backpropagates through the prox: exact zeros and coefficients far below the
    threshold but above the floor (a blank half, a near-blank image; the banded and the dense
    levels) give finite gradients."""
    for shape in [(130, 128), (40, 36)]:
        x = torch.randn(2, *shape, dtype=torch.complex64)
        x[0] *= 1e-16
        x[1, : shape[0] // 2] = 0
        x.requires_grad_(True)
        t = torch.tensor([0.05, 0.05], requires_grad=True)
        out = wavelets.soft_threshold_prox(x, t, wavelets.levels_for(shape), shift=(1, 2))
        (out.abs() ** 2).sum().backward()
        assert torch.isfinite(torch.view_as_real(x.grad)).all() and torch.isfinite(t.grad).all()


def test_prox_keeps_odd_sizes_and_dtype():
    x = torch.randn(2, 45, 37, dtype=torch.complex64)
    levels = wavelets.levels_for((45, 37))
    assert levels == 2
    out = wavelets.soft_threshold_prox(x, 0.0, levels, shift=(2, 5))
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_allclose(out.numpy(), x.numpy(), atol=1e-5)
    assert float(wavelets.soft_threshold_prox(x, 0.5, levels).abs().sum()) < float(x.abs().sum())
    tiny = torch.randn(1, 6, 6, dtype=torch.complex64)  # no level fits: the pixels themselves
    assert wavelets.levels_for((6, 6)) == 0
    np.testing.assert_allclose(wavelets.soft_threshold_prox(tiny, 0.1, 0).abs().numpy(),
                               np.maximum(tiny.abs().numpy() - 0.1, 0), atol=1e-6)
