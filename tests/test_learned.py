import subprocess
import sys

import numpy as np
import pytest
import torch

import mrirecon
from mrirecon import masks, solvers, weights
from mrirecon.api import make_problem
from mrirecon.fft import fft2c
from mrirecon.errors import WeightsError
from mrirecon.nn.model import MODELS

from tiny_nets import tiny


@pytest.mark.parametrize("name", list(MODELS))
def test_shapes_steps_and_gradients(name, batch):
    torch.manual_seed(0)
    model = tiny(name)
    y, m, s, nv = batch
    outs = list(model.iterate(y, m, s, nv))
    assert len(outs) == model.total_steps
    assert outs[-1].shape == (2, 96, 96) and outs[-1].dtype == torch.float32
    assert torch.isfinite(outs[-1]).all()
    scale, gen = model.normalised_steps(y, m, s, nv)
    loss = sum(o.mean() for o in gen)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list(MODELS))
def test_zero_update_with_full_data_reproduces_the_image(name, small_acq):
    """Fully sampled mask, exact maps, network updates zeroed: every step returns |x| (the SENSE
    start of recurrentvarnet without its Tikhonov weight, which shrinks it by 1 / (1 + init_mu))."""
    torch.manual_seed(0)
    model = tiny(name, **({"init_mu": 0.0} if name == "recurrentvarnet" else {}))
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "conv_out"):
                mod.conv_out.weight.zero_()
                mod.conv_out.bias.zero_()
    sens = small_acq.sens / np.sqrt((np.abs(small_acq.sens) ** 2).sum(1, keepdims=True))
    x = np.abs(small_acq.image)
    y = torch.from_numpy(fft2c(sens * small_acq.image[:, None]).astype(np.complex64))
    full = torch.ones(96, 96, dtype=torch.bool)
    with torch.no_grad():
        for out in model.iterate(y, full, torch.from_numpy(sens.astype(np.complex64))):
            np.testing.assert_allclose(out.numpy(), x, atol=2e-4 * x.max())


def test_varnet_sense_initial_image(small_acq):
    """``init_cg``: RecurrentVarNet starts from a SENSE reconstruction. With full data and exact
    maps (``A^H A = I``) it is ``x / (1 + init_mu)``; at equispaced 3x (noiseless, exact maps) it
    unfolds part of the aliasing that ``A^H y`` keeps (error 0.68x after 8 iterations; these
    smooth 6-coil maps at 96 x 96 unfold slowly), and the network runs from it."""
    sens = small_acq.sens / np.sqrt((np.abs(small_acq.sens) ** 2).sum(1, keepdims=True))
    sens = torch.from_numpy(sens.astype(np.complex64))
    image = torch.from_numpy(small_acq.image)
    k = torch.from_numpy(fft2c(sens.numpy() * small_acq.image[:, None]).astype(np.complex64))
    full = torch.ones(96, 96, dtype=torch.bool)
    model = tiny("recurrentvarnet", init_cg=8, init_mu=0.01)
    with torch.no_grad():
        x0 = model.net.initial_image(k, full, sens)
    assert torch.allclose(x0, image / 1.01, atol=1e-4 * float(image.abs().max()))

    m = torch.from_numpy(masks.create("equispaced", (96, 96), 3, 0.08, seed=0))
    y = k * m
    plain = tiny("recurrentvarnet", init_cg=0)
    with torch.no_grad():
        err_sense = (model.net.initial_image(y, m, sens) - image).norm()
        err_adjoint = (plain.net.initial_image(y, m, sens) - image).norm()
        out = model(y, m, sens)
    assert err_sense < 0.75 * err_adjoint
    assert out.shape == (2, 96, 96) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["irim", "recurrentvarnet"])
def test_final_data_consistency_step(name, batch, small_acq):
    """``final_dc``: one more output and a learned weight that receives a gradient. With full
    data and exact maps (``A^H A = I``) the step is ``(x + mu x_net) / (1 + mu)``: the data's image,
    pulled towards the network's by the learned weight only."""
    torch.manual_seed(0)
    model = tiny(name, final_dc=8)
    y, m, s, nv = batch
    scale, gen = model.normalised_steps(y, m, s, nv)
    outs = list(gen)
    assert len(outs) == model.total_steps == 3
    outs[-1].mean().backward()
    assert model.net.log_mu.grad is not None and model.net.log_mu.grad != 0
    sens = small_acq.sens / np.sqrt((np.abs(small_acq.sens) ** 2).sum(1, keepdims=True))
    sens = torch.from_numpy(sens.astype(np.complex64))
    image = torch.from_numpy(small_acq.image)
    y = torch.from_numpy(fft2c(sens.numpy() * small_acq.image[:, None]).astype(np.complex64))
    full = torch.ones(96, 96, dtype=torch.bool)
    with torch.no_grad():
        *_, x_net, last = model.net.steps(y, full, sens)
        mu = model.net.log_mu.exp()
    expected = (image + mu * x_net) / (1 + mu)
    assert torch.allclose(last, expected, atol=1e-4 * float(image.abs().max()))
    assert (last - image).abs().max() < 0.05 * (x_net - image).abs().max()


@pytest.mark.parametrize("name", ["irim", "recurrentvarnet"])
def test_final_sparse_step(name, batch, small_acq):
    """``final_l1``: one more output after the data-consistency step, its two learned numbers get
    gradients. With full data and exact maps (``A^H A = I``) a vanishing wavelet weight keeps the
    data-consistency step's minimiser, and a vanishing prior weight as well gives the data's image."""
    torch.manual_seed(0)
    model = tiny(name, final_dc=8, final_l1=4)
    y, m, s, nv = batch
    scale, gen = model.normalised_steps(y, m, s, nv)
    outs = list(gen)
    assert len(outs) == model.total_steps == 4
    assert not torch.allclose(outs[-1], outs[-2])
    outs[-1].mean().backward()
    sparse = model.net.l1_step
    assert sparse.log_lam.grad != 0 and sparse.log_mu_factor.grad != 0
    sens = small_acq.sens / np.sqrt((np.abs(small_acq.sens) ** 2).sum(1, keepdims=True))
    sens = torch.from_numpy(sens.astype(np.complex64))
    image = torch.from_numpy(small_acq.image)
    y = torch.from_numpy(fft2c(sens.numpy() * small_acq.image[:, None]).astype(np.complex64))
    full = torch.ones(96, 96, dtype=torch.bool)
    tol = 1e-4 * float(image.abs().max())
    with torch.no_grad():
        sparse.log_lam.fill_(np.log(1e-9))
        *_, x_net, x_dc, last = model.net.steps(y, full, sens)
        assert torch.allclose(last, x_dc, atol=tol)
        sparse.log_mu_factor.fill_(np.log(1e-6))
        *_, last = model.net.steps(y, full, sens)
    assert (last - image).abs().max() < 0.01 * (x_dc - image).abs().max()
    with pytest.raises(ValueError, match="final_l1 needs final_dc"):
        tiny(name, final_l1=4)


def test_noise_adaptive_data_consistency_weight(batch):
    """``final_dc_noise``: ``mu = exp(log_mu) (noise_var / NOISE_REF)^mu_noise`` per sample; with
    the exponent at its initial 0 the model equals the constant-weight one, and the exponent
    receives a gradient."""
    from mrirecon.nn.common import NOISE_REF, dc_weight

    log_mu = torch.tensor(0.5).log()
    nv = torch.tensor([NOISE_REF, 4 * NOISE_REF])
    assert torch.allclose(dc_weight(log_mu, torch.tensor(0.5), nv), torch.tensor([0.5, 1.0]))
    assert torch.allclose(dc_weight(log_mu, torch.tensor(1.0), nv), torch.tensor([0.5, 2.0]))
    assert torch.allclose(dc_weight(log_mu, torch.tensor(1.0), None), torch.tensor(0.5))
    torch.manual_seed(0)
    plain = tiny("irim", final_dc=4)
    torch.manual_seed(0)
    adaptive = tiny("irim", final_dc=4, final_dc_noise=True)
    y, m, s, nv = batch
    assert torch.equal(plain(y, m, s, nv), adaptive(y, m, s, nv).detach())
    adaptive(y, m, s, nv * 3).mean().backward()
    assert adaptive.net.mu_noise.grad is not None and adaptive.net.mu_noise.grad != 0
    with torch.no_grad():
        adaptive.net.mu_noise.fill_(1.0)
        assert not torch.equal(plain(y, m, s, nv * 3), adaptive(y, m, s, nv * 3))


def test_weight_map_forms():
    """``WeightMap``: bounded to ``exp(+-LIMIT)``; ``background`` raises the weight only where the
    estimate is near zero: ``exp(gain exp(-(|x| / width)^2))``."""
    from mrirecon.nn.common import WeightMap

    mu = torch.tensor([1.0, 2.0])
    wm = WeightMap("hidden", 4)
    with torch.no_grad():
        wm.conv.bias.fill_(100.0)
    out = wm(torch.zeros(2, 3, 3), torch.zeros(2, 4, 3, 3), mu)
    assert torch.allclose(out[:, 0, 0], mu * np.exp(WeightMap.LIMIT), rtol=1e-4)
    bg = WeightMap("background", 4)
    with torch.no_grad():
        bg.gain.fill_(2.0)
        bg.log_width.fill_(np.log(0.1))
    x = torch.tensor([0.0, 0.1, 1.0]).view(1, 1, 3).expand(2, 1, 3)
    expected = mu.view(2, 1, 1) * torch.exp(torch.tanh(2.0 * torch.exp(-(x / 0.1) ** 2) / 5) * 5)
    assert torch.allclose(bg(x, None, mu), expected, rtol=1e-5)
    assert torch.allclose(bg(x, None, mu)[..., 2], mu.view(2, 1), rtol=1e-4)  # signal: unchanged
    with torch.no_grad():
        bg.log_width.fill_(np.log(10.0))  # capped at MAX_WIDTH
    capped = mu.view(2, 1, 1) * torch.exp(torch.tanh(2.0 * torch.exp(-(x / WeightMap.MAX_WIDTH) ** 2) / 5) * 5)
    assert torch.allclose(bg(x, None, mu), capped, rtol=1e-5)
    with pytest.raises(ValueError, match="hidden or background"):
        WeightMap("everywhere", 4)


@pytest.mark.parametrize("name,kind", [("irim", "hidden"), ("recurrentvarnet", "hidden"), ("irim", "background")])
def test_per_pixel_data_consistency_weight(name, kind, batch, monkeypatch):
    """``final_dc_map``: initialised, the model equals the constant-weight one; the map gets a
    gradient; a large weight keeps the network's estimate (the step's
    ``argmin ||Az - y||^2 + mu ||z - x||^2`` tends to ``x`` as ``mu`` grows)."""
    from mrirecon.nn.common import WeightMap

    torch.manual_seed(0)
    plain = tiny(name, final_dc=4)
    torch.manual_seed(0)
    mapped = tiny(name, final_dc=4, final_dc_map=kind)
    y, m, s, nv = batch
    assert torch.equal(plain(y, m, s, nv), mapped(y, m, s, nv).detach())
    mapped(y, m, s, nv).mean().backward()
    first = mapped.net.mu_map.conv.bias if kind == "hidden" else mapped.net.mu_map.gain
    assert first.grad != 0
    with torch.no_grad():
        if kind == "hidden":
            mapped.net.mu_map.conv.bias.fill_(WeightMap.LIMIT * 4)
        else:
            mapped.net.mu_map.gain.fill_(WeightMap.LIMIT * 4)
            monkeypatch.setattr(WeightMap, "MAX_WIDTH", 1e3)
            mapped.net.mu_map.log_width.fill_(np.log(1e3))  # every pixel counts as background
        mapped.net.log_mu.fill_(np.log(1e3))
        outs = [o for o in mapped.iterate(y, m, s)]
    # the final step keeps the last network estimate where the maps see the object (rss_floor off:
    # no noise_var given)
    inside = (s.abs() ** 2).sum(-3) > 0
    assert inside.float().mean() > 0.3
    assert torch.allclose(outs[-1][inside], outs[-2][inside], rtol=1e-3, atol=1e-3 * float(outs[-2].max()))
    assert not torch.allclose(plain(y, m, s)[inside], outs[-2][inside], rtol=1e-2)


def test_save_load_round_trip(tmp_path, batch):
    torch.manual_seed(0)
    model = tiny("irim", final_dc=4).eval()
    weights.save(model, {"note": "test"}, tmp_path)
    loaded, card = weights.load("irim", tmp_path)
    assert card["note"] == "test" and card["config"]["channels"] == 8
    with torch.no_grad():
        assert torch.equal(model(*batch), loaded(*batch))


@pytest.mark.parametrize("name", list(MODELS))
def test_bfloat16_blocks_follow_float32(name, batch):
    """``compute_in(bfloat16)``: convolutions and states in bf16, physics, the data-consistency
    weights and the output in float32, results within bf16 rounding of the float32 model."""
    torch.manual_seed(0)
    model = tiny(name, final_dc=4).eval()
    with torch.inference_mode():
        ref = model(*batch)
        model.compute_in(torch.bfloat16)
        out = model(*batch)
    dtypes = {n.split(".")[0]: p.dtype for n, p in model.net.named_parameters()}
    assert all(dtypes[part] == torch.bfloat16 for part in model.net.COMPUTE)
    assert dtypes["log_mu"] == torch.float32 and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    rel = ((out - ref).norm() / ref.norm()).item()
    assert 0 < rel < 0.03


def test_registry_bf16_variant_keeps_float32_model(tiny_irim):
    tmp_path, p = tiny_irim
    fp32 = solvers.get("irim", models_dir=tmp_path)
    a = fp32.run(p)
    bf16 = solvers.get("irim-bf16", models_dir=tmp_path)  # the variant by name, as the CLI takes it
    assert bf16.name == "irim" and bf16.precision == "bf16"
    b = bf16.run(p)
    assert fp32.model("cpu").net.blocks[0].conv_in.weight.dtype == torch.float32
    assert bf16.model("cpu").net.blocks[0].conv_in.weight.dtype == torch.bfloat16
    np.testing.assert_array_equal(fp32.run(p), a)
    assert b.dtype == np.float32 and 0 < np.abs(a - b).max() < 0.05 * a.max()
    with pytest.raises(mrirecon.errors.InputError, match="unknown method 'cs-l1-bf16'"):
        solvers.get("cs-l1-bf16")
    contradiction = "'irim-bf16' is 'irim' with precision='bf16'; got precision='fp32'"
    with pytest.raises(mrirecon.errors.InputError, match=contradiction):
        solvers.get("irim-bf16", precision="fp32")  # not silently float32
    assert solvers.get("irim-bf16", precision="bf16").precision == "bf16"
    with pytest.raises(mrirecon.errors.InputError, match="precision must be one of fp32, bf16"):
        solvers.get("irim", precision="fp16")
    listed = solvers.names(variants=True)  # what the napari widget offers
    assert listed[:len(solvers.names())] == solvers.names() and "irim-bf16" in listed
    assert "cs-l1-bf16" not in listed
    runnable = solvers.available(variants=True)
    for name in MODELS:
        assert (name + solvers.BF16 in runnable) == (name in runnable)


def test_missing_and_corrupt_weights(tmp_path):
    with pytest.raises(WeightsError, match=r"irim.safetensors.*mrirecon train irim"):
        weights.load("irim", tmp_path)
    model = tiny("irim")
    wpath, cpath = weights.save(model, {}, tmp_path)
    wpath.write_bytes(wpath.read_bytes()[:100])
    with pytest.raises(WeightsError, match="corrupt"):
        weights.load("irim", tmp_path)
    weights.save(model, {}, tmp_path)
    cpath.write_text("{not json")
    with pytest.raises(WeightsError, match="corrupt model card"):
        weights.load("irim", tmp_path)


def test_registry_runs_learned_method_from_weights(tmp_path, small_acq):
    torch.manual_seed(0)
    weights.save(tiny("rim-mgu"), {}, tmp_path)
    m = masks.create("equispaced", (96, 96), 4, seed=0)
    p = make_problem(small_acq.kspace * m, m, device="cpu")
    method = solvers.get("rim-mgu", models_dir=tmp_path)
    out = method.run(p)
    assert out.shape == (2, 96, 96) and out.dtype == np.float32
    # the model's last step, and the complex estimate the magnitude was taken from (RSS floor)
    model, _ = weights.load("rim-mgu", tmp_path)
    with torch.inference_mode():
        *_, last = model.eval().iterate(torch.from_numpy(p.kspace), torch.from_numpy(p.mask),
                                        torch.from_numpy(p.sens), torch.full((2,), p.noise_var))
    np.testing.assert_allclose(out, last.numpy(), rtol=1e-5, atol=1e-6 * out.max())
    floor = np.sqrt(np.abs(method.estimate) ** 2 + (p.n_coils - 1) * p.noise_var)
    np.testing.assert_allclose(out, floor, rtol=1e-4, atol=1e-6 * out.max())


SHIPPED = [n for n in MODELS if weights.paths(n)[0].exists()]


@pytest.mark.parametrize("name", SHIPPED or [pytest.param("none", marks=pytest.mark.skip("no weights shipped yet"))])
def test_shipped_weights_run_on_a_small_slice(name, small_acq):
    """The committed weights load without pickle and beat zero-filling on a held-out FLAIR slice."""
    _, card = weights.load(name)
    assert card["name"] == name and card["training_steps"] > 0 and "validation" in card
    m = masks.create("gaussian2d", (96, 96), 4, seed=3)
    p = make_problem(small_acq.kspace[:1] * m, m, device="cpu")
    out = solvers.get(name).run(p)
    zf = solvers.get("zero-filled").run(p)
    target = small_acq.target[:1]
    assert mrirecon.metrics.psnr(target, out) > mrirecon.metrics.psnr(target, zf)


@pytest.mark.skipif("irim" not in SHIPPED, reason="irim weights not shipped")
def test_learned_method_on_virtual_coils(small_acq):
    """All six coils as virtual ones: the same estimated maps up to a coil rotation, so the same
    image; four of six: close to it, on the acquisition's RSS scale."""
    m = masks.create("equispaced", (96, 96), 4, seed=0)
    k = small_acq.kspace[:1] * m
    full = mrirecon.reconstruct(k, m, "irim", device="cpu")
    six = mrirecon.reconstruct(k, m, "irim", device="cpu", virtual_coils=6)
    np.testing.assert_allclose(six, full, rtol=1e-3, atol=1e-4 * full.max())
    four = mrirecon.reconstruct(k, m, "irim", device="cpu", virtual_coils=4)
    target = small_acq.target[:1]
    assert mrirecon.metrics.ssim(target, four) > mrirecon.metrics.ssim(target, full) - 0.005
    assert abs(np.median(four) / np.median(full) - 1) < 0.05


def test_registry_lists_every_model_without_importing_torch():
    from mrirecon.solvers.learned import LEARNED

    assert list(LEARNED) == list(MODELS)
    code = "import sys, mrirecon; from mrirecon import solvers; n = solvers.names(); assert 'torch' not in sys.modules, n"
    subprocess.run([sys.executable, "-c", code], check=True)
