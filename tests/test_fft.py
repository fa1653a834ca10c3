import numpy as np
import torch

from mrirecon.fft import fft2c, ifft2c, ifftc


def _reference(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def test_numpy_matches_reference_formula(rng):
    for shape in [(8, 8), (3, 7, 10), (2, 4, 9, 6)]:
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        np.testing.assert_allclose(fft2c(x), _reference(x), atol=1e-12)
        np.testing.assert_allclose(ifft2c(fft2c(x)), x, atol=1e-12)


def test_torch_matches_numpy(rng):
    x = (rng.standard_normal((2, 3, 11, 8)) + 1j * rng.standard_normal((2, 3, 11, 8))).astype(np.complex64)
    t = torch.from_numpy(x)
    assert isinstance(fft2c(t), torch.Tensor)
    np.testing.assert_allclose(fft2c(t).numpy(), _reference(x), atol=1e-5)
    np.testing.assert_allclose(ifft2c(t).numpy(), np.conj(_reference(np.conj(x))), atol=1e-5)


def test_orthonormal_and_centred(rng):
    x = rng.standard_normal((16, 16)) + 1j * rng.standard_normal((16, 16))
    assert np.isclose(np.linalg.norm(fft2c(x)), np.linalg.norm(x))
    # a constant image puts all of its energy at the centre (H//2, W//2)
    k = fft2c(np.ones((16, 10)))
    assert np.argmax(np.abs(k)) == np.ravel_multi_index((8, 5), (16, 10))


def test_torch_even_and_odd_sizes_and_gradients(rng):
    for shape in [(2, 8, 6), (2, 10, 12), (2, 9, 8), (2, 7, 7), (1, 256, 256)]:
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        t = torch.from_numpy(x)
        np.testing.assert_allclose(fft2c(t).numpy(), _reference(x), atol=1e-4 * np.abs(x).sum() ** 0.5)
        np.testing.assert_allclose(ifft2c(fft2c(t)).numpy(), x, atol=1e-4)
    t = torch.from_numpy(x).requires_grad_(True)
    fft2c(t).abs().sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_one_axis_inverse_composes_to_the_2d_one(rng):
    x = rng.standard_normal((3, 7, 10)) + 1j * rng.standard_normal((3, 7, 10))
    np.testing.assert_allclose(ifftc(ifftc(x, -2), -1), ifft2c(x), atol=1e-12)
    t = torch.from_numpy(x.astype(np.complex64))
    np.testing.assert_allclose(ifftc(ifftc(t, -1), -2).numpy(), ifft2c(x), atol=1e-5)
