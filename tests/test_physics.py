import numpy as np
import pytest
import torch

from mrirecon import masks, physics
from mrirecon.fft import fft2c, ifft2c

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _rand(shape, gen, device):
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)).to(device)


def _inner(a, b):
    return (a.conj() * b).sum()


@pytest.mark.parametrize("device", DEVICES)
def test_adjoint_batched(device):
    gen = torch.Generator().manual_seed(0)
    b, c, h, w = 3, 4, 24, 20
    x = _rand((b, h, w), gen, device)
    y = _rand((b, c, h, w), gen, device)
    sens = _rand((b, c, h, w), gen, device)
    mask = torch.from_numpy(masks.create("gaussian2d", (h, w), 3, seed=0)).to(device)
    lhs = _inner(physics.forward(x, sens, mask), y)
    rhs = _inner(x, physics.adjoint(y, sens, mask))
    assert torch.allclose(lhs, rhs, rtol=1e-5, atol=1e-3), (lhs, rhs)
    # per batch element, too
    for i in range(b):
        li = _inner(physics.forward(x[i], sens[i], mask), y[i])
        ri = _inner(x[i], physics.adjoint(y[i], sens[i], mask))
        assert torch.allclose(li, ri, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("shape", [(24, 20), (24, 22), (15, 20)])  # the frame's sign +1, -1; an odd size
def test_sense_operator_in_its_frame_is_the_centred_model(shape):
    """``physics.Sense`` folds the FFTs' centring into its maps and data: in its frame it is the
    centred model up to ``to_frame`` (its own inverse), exactly (sign flips only)."""
    gen = torch.Generator().manual_seed(2)
    h, w = shape
    x, sens = _rand((2, h, w), gen, "cpu"), _rand((2, 3, h, w), gen, "cpu")
    mask = torch.from_numpy(masks.create("gaussian2d", shape, 2, seed=0))
    y = physics._apply_mask(_rand((2, 3, h, w), gen, "cpu"), mask)
    op = physics.Sense(sens, mask)
    assert torch.equal(op.to_frame(op.to_frame(y)), y)
    centred = fft2c(sens * x.unsqueeze(-3))
    torch.testing.assert_close(op.to_frame(op.forward(x, masked=False)), centred, rtol=0, atol=1e-5)
    torch.testing.assert_close(op.to_frame(op.forward(x)), physics._apply_mask(centred, mask), rtol=0, atol=1e-5)
    back = (sens.conj() * ifft2c(physics._apply_mask(y, mask))).sum(-3)
    torch.testing.assert_close(op.adjoint(op.to_frame(y)), back, rtol=0, atol=1e-5)
    grad = (sens.conj() * ifft2c(physics._apply_mask(centred - y, mask))).sum(-3)
    torch.testing.assert_close(op.gradient(x, op.to_frame(y)), grad, rtol=0, atol=1e-5)
    torch.testing.assert_close(op.normal(x), op.gradient(x, torch.zeros_like(y)), rtol=0, atol=0)


def test_gradient_matches_autograd():
    gen = torch.Generator().manual_seed(1)
    c, h, w = 3, 16, 12
    sens = _rand((c, h, w), gen, "cpu")
    y = _rand((c, h, w), gen, "cpu")
    mask = torch.from_numpy(masks.create("random", (h, w), 2, seed=1))
    x = _rand((h, w), gen, "cpu").requires_grad_(True)
    loss = 0.5 * (physics.forward(x, sens, mask) - physics._apply_mask(y, mask)).abs().pow(2).sum()
    loss.backward()
    # torch's gradient of a real loss w.r.t. a complex input is conj-Wirtinger * 2 = A^H (A x - y)
    expected = physics.gradient(x.detach(), y, sens, mask)
    assert torch.allclose(x.grad, expected, atol=1e-4)


def test_soft_dc_full_weight_restores_data():
    gen = torch.Generator().manual_seed(2)
    k = _rand((2, 8, 8), gen, "cpu")
    y = _rand((2, 8, 8), gen, "cpu")
    mask = torch.from_numpy(masks.create("random", (8, 8), 2, center_fraction=0.25, seed=0))
    out = physics.soft_dc(k, y, mask, 1.0)
    assert torch.allclose(out[:, mask], y[:, mask], atol=1e-6)
    assert torch.equal(out[:, ~mask], k[:, ~mask])
    half = physics.soft_dc(k, y, mask, 0.5)
    assert torch.allclose(half[:, mask], 0.5 * (k + y)[:, mask])


def test_full_sampling_with_unit_maps_is_identity():
    gen = torch.Generator().manual_seed(3)
    sens = _rand((4, 10, 10), gen, "cpu")
    sens = sens / (sens.abs() ** 2).sum(0).sqrt()
    x = _rand((10, 10), gen, "cpu")
    full = torch.ones(10, 10, dtype=torch.bool)
    assert torch.allclose(physics.normal(x, sens, full), x, atol=1e-5)
    assert torch.allclose(physics.residual_image(x, physics.forward(x, sens), sens, full),
                          torch.zeros(10, 10), atol=1e-5)


def test_tikhonov_cg_matches_a_dense_solve():
    """(A^H A + mu I) x = A^H y + mu prior, per image of a batch, against numpy's solver."""
    gen = torch.Generator().manual_seed(4)
    c, h, w = 3, 6, 5
    sens = _rand((2, c, h, w), gen, "cpu")
    y = _rand((2, c, h, w), gen, "cpu")
    prior = _rand((2, h, w), gen, "cpu")
    mask = torch.from_numpy(masks.create("random", (h, w), 2, seed=2))
    mu = 0.05
    *_, x = physics.tikhonov_cg(y, sens, mask, mu, prior=prior, iterations=h * w)
    eye = torch.eye(h * w, dtype=torch.complex64).reshape(h * w, h, w)
    for i in range(2):
        normal = torch.stack([physics.normal(e, sens[i], mask).flatten() for e in eye], 1)
        rhs = (physics.adjoint(y[i], sens[i], mask) + mu * prior[i]).flatten()
        expected = np.linalg.solve(normal.numpy().astype(np.complex128) + mu * np.eye(h * w), rhs.numpy())
        np.testing.assert_allclose(x[i].flatten().numpy(), expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    # no prior: Tikhonov towards zero, the CG-SENSE problem
    *_, x0 = physics.tikhonov_cg(y[0], sens[0], mask, mu, iterations=h * w)
    lhs = physics.normal(x0, sens[0], mask) + mu * x0
    assert torch.allclose(lhs, physics.adjoint(y[0], sens[0], mask), atol=1e-3 * float(lhs.abs().max()))


def test_l1_wavelet_fista_reaches_the_fixed_point_of_its_problem():
    """``l1_wavelet_fista`` with a prior term, orthonormal wavelets (the prox exact) and no shifts:
    its limit ``x`` is the fixed point ``x = prox(x - step grad f(x))`` of ``f = 1/2 ||A x - y||^2 +
    mu/2 ||x - prior||^2``, per image of a batch, with a per-pixel ``mu``; and it is differentiable."""
    from mrirecon import wavelets

    gen = torch.Generator().manual_seed(5)
    sens = _rand((2, 3, 32, 32), gen, "cpu")
    sens = sens / (sens.abs() ** 2).sum(1, keepdim=True).sqrt()
    mask = torch.from_numpy(masks.create("random", (32, 32), 3, seed=1))
    y = _rand((2, 3, 32, 32), gen, "cpu") * mask
    prior = _rand((2, 32, 32), gen, "cpu")
    mu = 0.1 + 0.2 * torch.rand((2, 32, 32), generator=gen)
    op = physics.Sense(sens, mask)
    data = op.to_frame(y)
    step = torch.full((2, 1, 1), 1 / (1 + 0.3))
    lam = torch.tensor([0.05, 0.2])
    *_, x = physics.l1_wavelet_fista(op, data, lam, step, 300, shifts=False, mode="periodization",
                                     mu=mu, prior=prior)
    levels = wavelets.levels_for((32, 32), "db4")
    grad = op.normal(x) - op.adjoint(data) + mu * (x - prior)
    again = wavelets.soft_threshold_prox(x - step * grad, lam * step.flatten(), levels, "db4", "periodization")
    assert ((again - x).norm() / x.norm()) < 1e-4
    # the sparsity term at work: the unregularised minimiser has the larger wavelet L1 norm
    *_, free = physics.l1_wavelet_fista(op, data, 0.0, step, 300, shifts=False, mode="periodization",
                                        mu=mu, prior=prior)

    def l1(v):
        blocks = wavelets.dwt(torch.cat([v.real, v.imag]), levels, "db4", "periodization")
        return sum(torch.sqrt(c[:2] ** 2 + c[2:] ** 2).sum(dim=(-2, -1)) for c in blocks)

    assert (l1(x) < 0.95 * l1(free)).all()
    lam = lam.clone().requires_grad_()
    *_, x = physics.l1_wavelet_fista(op, data, lam, step, 5, mu=mu, prior=prior)
    x.abs().sum().backward()
    assert torch.isfinite(lam.grad).all() and (lam.grad != 0).all()
