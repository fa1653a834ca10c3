import dataclasses

import numpy as np
import pytest

import mrirecon
from mrirecon import masks, metrics, solvers
from mrirecon.api import make_problem
from mrirecon.coils import rss
from mrirecon.errors import InputError
from mrirecon.fft import ifft2c

CLASSICAL = ["zero-filled", "sense", "cs-l1", "cs-tv"]


def test_registry_lists_classical_methods():
    assert set(CLASSICAL) <= set(mrirecon.methods())
    assert mrirecon.methods() == solvers.names()
    with pytest.raises(InputError, match="valid methods: .*cs-l1"):
        solvers.get("magic")


@pytest.fixture(scope="module")
def problem(small_acq):
    m = masks.create("equispaced", small_acq.kspace.shape[-2:], 4, seed=0)
    return make_problem(small_acq.kspace * m, m, device="cpu")


@pytest.mark.parametrize("name", CLASSICAL)
def test_shapes_dtypes_progress(problem, name):
    method = solvers.get(name, **({"iterations": 5} if name.startswith("cs") else {}))
    gen = method.iterate(problem)
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            out = stop.value
            break
    assert steps and all(0 <= s.step < s.total for s in steps)
    assert out.shape == problem.kspace.shape[:1] + problem.kspace.shape[-2:]
    assert out.dtype == np.float32 and np.isfinite(out).all() and (out >= 0).all()


def test_zero_filled_is_rss_of_zero_filled(problem):
    out = solvers.get("zero-filled").run(problem)
    np.testing.assert_allclose(out, rss(ifft2c(problem.kspace)), rtol=1e-5, atol=1e-6)


def test_sense_fully_sampled_matches_rss(small_acq):
    full = np.ones(small_acq.kspace.shape[-2:], bool)
    p = make_problem(small_acq.kspace, full, device="cpu")
    out = solvers.get("sense").run(p)
    obj = small_acq.target > 0.3 * small_acq.target.max()
    rel = np.abs(out - small_acq.target)[obj] / small_acq.target[obj]
    assert np.median(rel) < 0.05
    assert metrics.ssim(small_acq.target, out) > 0.9


@pytest.mark.parametrize("name", ["cs-l1", "cs-tv"])
def test_cs_beats_zero_filled(small_acq, name):
    """CS in its own setting: incoherent (2D variable-density) undersampling."""
    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    problem = make_problem(small_acq.kspace * m, m, device="cpu")
    zf = metrics.psnr(small_acq.target, solvers.get("zero-filled").run(problem))
    cs = metrics.psnr(small_acq.target, solvers.get(name).run(problem))
    assert cs > zf + 2, (cs, zf)


@pytest.mark.parametrize("name", ["cs-l1", "cs-tv"])
def test_cs_is_zero_outside_the_maps_support(problem, name):
    """The data do not see pixels outside cropped maps and the prior alone does not zero them: the
    estimate must be zero there, the output the RSS noise floor."""
    sens = problem.sens.copy()
    sens[..., :, :8] = 0  # a band of columns outside the support, next to the object
    cropped = dataclasses.replace(problem, sens=sens, noise_var=1e-6)
    method = solvers.get(name, iterations=10)
    out = method.run(cropped)
    assert np.abs(method.estimate[..., :8]).max() == 0
    np.testing.assert_allclose(out[..., :8], np.sqrt((cropped.n_coils - 1) * 1e-6), rtol=1e-5)
    inside = (np.abs(sens) ** 2).sum(-3) > 0
    assert (np.abs(method.estimate)[inside] > 0).all()


def test_random_shift_prox_undoes_its_shifts():
    """Around a pointwise prox (shift equivariant) the random shifts change nothing; around the
    wavelet prox they do (the wavelets are not shift invariant), and the same seed repeats them."""
    import sigpy as sp

    from mrirecon.solvers.cs import _random_shift, _levels

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((32, 40)) + 1j * rng.standard_normal((32, 40))).astype(np.complex64)
    pointwise = sp.prox.L1Reg(x.shape, 0.5)
    np.testing.assert_array_equal(_random_shift(pointwise, 3, seed=1)(1.0, x), pointwise(1.0, x))
    W = sp.linop.Wavelet(x.shape, wave_name="db4")
    wavelet = sp.prox.UnitaryTransform(sp.prox.L1Reg(W.oshape, 0.5), W)
    first = _random_shift(wavelet, _levels(W), seed=1)
    a, b = first(1.0, x), first(1.0, x)
    assert not np.allclose(a, b) or not np.allclose(a, wavelet(1.0, x))
    again = _random_shift(wavelet, _levels(W), seed=1)
    np.testing.assert_array_equal(again(1.0, x), a)
    np.testing.assert_array_equal(again(1.0, x), b)


def test_sigpy_cs_l1_shifts_repeat_and_differ(problem, monkeypatch):
    """Shifted cs-l1 through sigpy repeats run to run (the same shifts; sigpy's step size comes from
    a randomly started power iteration, so not bit for bit: ~1e-5 here, ~2e-6 without shifts) and is
    a different solution from the fixed one; with every shift 0 it is sigpy's L1WaveletRecon."""
    from mrirecon.solvers import cs

    def run(**kw):
        return solvers.get("cs-l1", iterations=15, backend="sigpy", **kw).run(problem)

    a, b, fixed = run(shifts=True), run(shifts=True), run(shifts=False)
    np.testing.assert_allclose(a, b, atol=1e-4 * a.max())
    assert np.abs(a - fixed).max() > 1e-3 * a.max()
    monkeypatch.setattr(cs, "_levels", lambda W: 0)  # offsets in [0, 1): none
    np.testing.assert_allclose(run(shifts=True), fixed, atol=1e-4 * a.max())


def test_cs_l1_repeats_bit_for_bit_and_batches_change_nothing(small_acq):
    """The torch cs-l1: the same result run to run (seeded power iteration, the same shift sequence
    for every batch), whatever the batch size; the shifts give a different solution."""
    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    p = make_problem(small_acq.kspace * m, m, device="cpu")
    assert p.kspace.shape[0] == 2
    a = solvers.get("cs-l1", iterations=15).run(p)
    np.testing.assert_array_equal(solvers.get("cs-l1", iterations=15).run(p), a)
    one = solvers.get("cs-l1", iterations=15, batch_size=1).run(p)
    np.testing.assert_allclose(one, a, rtol=1e-5, atol=1e-6 * a.max())
    fixed = solvers.get("cs-l1", iterations=15, shifts=False).run(p)
    assert np.abs(a - fixed).max() > 1e-3 * a.max()


def test_cs_l1_backends_solve_the_same_problem(small_acq):
    """torch (periodised wavelets) and sigpy (zero-extended ones) at the same lambda: close
    solutions of similar quality."""
    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    p = make_problem(small_acq.kspace * m, m, device="cpu")
    t = solvers.get("cs-l1", iterations=40).run(p)
    s = solvers.get("cs-l1", iterations=40, backend="sigpy").run(p)
    assert np.linalg.norm(t - s) < 0.1 * np.linalg.norm(s)
    assert abs(metrics.psnr(small_acq.target, t) - metrics.psnr(small_acq.target, s)) < 1.0
    with pytest.raises(InputError, match="backend must be one of torch, sigpy"):
        solvers.get("cs-l1", backend="bart")
    with pytest.raises(InputError, match="iterations must be >= 1"):
        solvers.get("cs-tv", iterations=0)


def test_cs_tv_finite_differences_and_their_adjoint_agree():
    """<G x, d> = <x, G^H d> for the circular differences of the torch cs-tv."""
    import torch

    from mrirecon.solvers.cs import _grad, _grad_adjoint

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 10, dtype=torch.complex128, generator=g)
    d = torch.randn(2, 2, 12, 10, dtype=torch.complex128, generator=g)
    assert abs(complex((_grad(x).conj() * d).sum()) - complex((x.conj() * _grad_adjoint(d)).sum())) < 1e-9


def test_cs_tv_backends_agree(small_acq):
    """The torch cs-tv is sigpy's TotalVariationRecon (the same PDHG) up to float32 rounding and the
    random start of the power iteration; batching changes nothing."""
    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    p = make_problem(small_acq.kspace * m, m, device="cpu")
    t = solvers.get("cs-tv", iterations=30).run(p)
    s = solvers.get("cs-tv", iterations=30, backend="sigpy").run(p)
    np.testing.assert_allclose(t, s, atol=2e-3 * s.max())
    one = solvers.get("cs-tv", iterations=30, batch_size=1).run(p)
    np.testing.assert_allclose(one, t, rtol=1e-5, atol=1e-6 * t.max())


def test_fista_converges_to_a_fixed_point_of_its_prox_step(small_acq):
    """Without shifts and with orthonormal wavelets FISTA solves the convex problem: its limit x
    satisfies x = prox(x - a grad); with lambda 0 and every sample it returns A^H y (SENSE with
    unit-RSS maps)."""
    import torch

    from mrirecon import physics, wavelets
    from mrirecon.solvers.cs import _max_eig, fista_l1_wavelet

    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    y = torch.from_numpy(small_acq.kspace[:1] * m)
    sens = torch.from_numpy(small_acq.sens[:1])
    op = physics.Sense(sens, torch.from_numpy(m))
    data = op.to_frame(y) / float(op.adjoint(op.to_frame(y)).abs().max())
    *_, x = fista_l1_wavelet(op, data, 3e-3, 300, shifts=False, mode="periodization")
    step = 1 / _max_eig(op.normal, x)
    levels = wavelets.levels_for(tuple(x.shape[-2:]))
    again = wavelets.soft_threshold_prox(x - step * (op.normal(x) - op.adjoint(data)), 3e-3 * step, levels,
                                         mode="periodization")
    assert float((again - x).abs().max()) < 1e-3 * float(x.abs().max())
    unit = sens / (sens.abs() ** 2).sum(-3, keepdim=True).sqrt()  # the simulator's maps: unit RSS too
    full = physics.Sense(unit, None)
    image = torch.from_numpy(small_acq.image[:1])
    *_, x = fista_l1_wavelet(full, full.forward(image), 0.0, 3, shifts=True)
    np.testing.assert_allclose(x.numpy(), image.numpy(), atol=1e-4 * float(image.abs().max()))


def test_cs_is_independent_of_intensity_units(problem):
    a = solvers.get("cs-l1", iterations=20).run(problem)
    scaled = make_problem(problem.kspace * 1e-4, problem.mask, sens=problem.sens, device="cpu")
    b = solvers.get("cs-l1", iterations=20).run(scaled)
    np.testing.assert_allclose(b * 1e4, a, rtol=2e-3, atol=1e-3 * a.max())


def test_reconstruct_api_shapes_and_mask_detection(small_acq):
    k = small_acq.kspace
    m = masks.create("gaussian2d", k.shape[-2:], 4, seed=1)
    vol = mrirecon.reconstruct(k * m, method="zero-filled")  # mask from the data's zeros
    one = mrirecon.reconstruct((k * m)[0], mask=m, method="zero-filled")
    assert vol.shape == (2, 96, 96) and one.shape == (96, 96)
    np.testing.assert_allclose(vol[0], one, rtol=1e-6)
    out = mrirecon.reconstruct(k * m, mask=m, method="sense", device="cpu")
    assert out.shape == (2, 96, 96)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kspace=np.ones((1, 2, 8, 8), np.float32)), "must be complex"),
    (dict(kspace=np.ones((1, 2, 8, 8), np.complex64), mask=np.ones((4, 4))), "mask has shape"),
    (dict(kspace=np.full((1, 2, 8, 8), np.inf, np.complex64)), "NaN or Inf"),
    (dict(kspace=np.ones((1, 2, 8, 8), np.complex64), device="tpu"), "unknown device"),
])
def test_reconstruct_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        mrirecon.reconstruct(method="zero-filled", **kwargs)
