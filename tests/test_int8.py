"""Int8 inference (``precision="int8"``, ``NAME-int8``): the convolution against float32, the
quantizer, every architecture against its float32 model, the registry variant."""
import numpy as np
import pytest
import torch
from torch import nn

import mrirecon
from mrirecon import masks, solvers, weights
from mrirecon.api import make_problem
from mrirecon.nn import int8
from mrirecon.nn.model import MODELS

from tiny_nets import tiny

pytestmark = pytest.mark.skipif(not int8.available(), reason="no oneDNN int8 convolution in this PyTorch build")


def test_quantizer_codes_scale_and_zero_point():
    x = torch.tensor([[-1.0, 0.0], [0.5, 3.0]]).view(1, 1, 2, 2)
    q, scale, zero = int8.quantize(x)
    assert q.dtype == torch.uint8 and scale == pytest.approx(4.0 / 255)
    assert zero == round(1.0 / scale)  # 0 is a code: zero padding stays exact
    back = (q.float() - zero) * scale
    assert (back - x).abs().max() <= scale / 2 + 1e-7
    assert int(q.view(-1)[0]) == 0 and int(q.view(-1)[3]) == 255  # the range spans the codes
    q, scale, zero = int8.quantize(torch.rand(1, 2, 3, 3) + 1)  # all positive: the range still includes 0
    assert zero == 0


def test_quantizer_without_quint8_tensors_gives_the_same_codes(monkeypatch):
    x = torch.randn(1, 8, 16, 16)
    fast = int8.quantize(x)
    monkeypatch.delattr(torch, "quantize_per_tensor")  # deprecated in PyTorch: the fallback path
    slow = int8.quantize(x)
    assert torch.equal(fast[0], slow[0]) and fast[1:] == slow[1:]


@pytest.mark.parametrize("cin, cout, k, dilation, signed", [
    (64, 64, 3, 2, False),  # the RIM block's dilated convolution on a ReLU output
    (4, 64, 5, 1, True),  # its input convolution (estimate and gradient, signed)
    (64, 2, 3, 1, True),  # its output convolution
    (16, 48, 1, 1, True),  # a cell's input-to-hidden map
])
@pytest.mark.parametrize("levels", [None, 63])  # this CPU's choice; 7-bit weights, exact on every CPU
def test_int8_convolution_follows_float32(cin, cout, k, dilation, signed, levels):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation)
    x = torch.randn(2, cin, 40, 36)
    x = x if signed else x.relu()
    with torch.inference_mode():
        ref, out = conv(x), int8.Int8Conv2d(conv, levels=levels)(x)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    rel = ((out - ref).norm() / ref.norm()).item()
    assert 0 < rel < 0.02  # int8 inputs and weights: about 1 % (float32 would be ~1e-7)
    edge = (out - ref)[..., :k, :].norm() / ref[..., :k, :].norm()
    assert edge < 0.02  # the zero padding is exact: the border is as good as the interior


def test_weight_levels_follow_vnni():
    assert int8.weight_levels(frozenset({"avx2", "avx512_vnni"})) == 127
    assert int8.weight_levels(frozenset({"avx2", "avx_vnni"})) == 127
    assert int8.weight_levels(frozenset({"avx2", "fma"})) == 63  # int16 pair sums: 7-bit weights


def test_seven_bit_weights_do_not_saturate_on_the_worst_case_input():
    # every product at its largest: uint8 codes of 255 times weights at +levels, summed in pairs.
    # 8-bit weights overflow int16 pair sums without VNNI (255 * 127 * 2 > 32767); 7-bit ones fit
    conv = nn.Conv2d(32, 8, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(0.5)
    x = torch.full((1, 32, 12, 12), 2.0)
    x[..., 0, 0] = -0.01  # signed: a zero point, so 2.0 is code 255
    with torch.inference_mode():
        ref, out = conv(x), int8.Int8Conv2d(conv, levels=63)(x)
        rel = ((out - ref).norm() / ref.norm()).item()
    assert rel < 0.01
    with pytest.raises(ValueError, match="levels"):
        int8.Int8Conv2d(conv, levels=128)


def test_int8_convolution_of_bias_free_conv_and_wrong_padding():
    conv = nn.Conv2d(8, 8, 1, bias=False)
    x = torch.randn(1, 8, 10, 10)
    with torch.inference_mode():
        assert ((int8.Int8Conv2d(conv)(x) - conv(x)).norm() / conv(x).norm()) < 0.02
    with pytest.raises(ValueError, match="zero padding"):
        int8.Int8Conv2d(nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"))


@pytest.mark.parametrize("name", list(MODELS))
def test_int8_model_follows_float32(name, batch):
    torch.manual_seed(0)
    model = tiny(name, final_dc=4).eval()
    with torch.inference_mode():
        ref = model(*batch)
        model.quantize_int8()
        out = model(*batch)
    for part in model.net.COMPUTE:
        convs = [m for m in getattr(model.net, part).modules() if isinstance(m, (nn.Conv2d, int8.Int8Conv2d))]
        assert convs and all(isinstance(m, int8.Int8Conv2d) for m in convs)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    rel = ((out - ref).norm() / ref.norm()).item()
    assert 0 < rel < 0.03


@pytest.mark.parametrize("name", list(MODELS))
def test_declared_relu_inputs_are_quantized_as_before(name, batch):
    """The convolutions a model declares to read a ReLU's output skip the minimum's pass: the same
    codes, so the same output as quantizing every input over its measured range."""
    torch.manual_seed(0)
    model = tiny(name, final_dc=4).eval()
    with torch.inference_mode():
        model.quantize_int8()
        convs = [m for m in model.net.modules() if isinstance(m, int8.Int8Conv2d)]
        flagged = [m for m in convs if m.nonneg_input]
        assert flagged and len(flagged) < len(convs)  # every model has some; never the first (signed image)
        fast = model(*batch)
        for m in flagged:
            m.nonneg_input = False
        assert torch.equal(model(*batch), fast)
    if name in ("irim", "cirim"):  # IndRNN states are ReLU outputs: four of each block's five convolutions
        assert len(flagged) == 4 * len(model.net.blocks)


@pytest.mark.parametrize("name", list(MODELS))
def test_relus_left_to_the_int8_quantizer_change_nothing(name, batch, monkeypatch):
    """A RIM block (also RecurrentVarNet's) skips the ReLU before an int8 cell convolution, whose
    quantizer clips negative values to the code of 0: the same output as applying it."""
    from mrirecon.nn import rim

    torch.manual_seed(0)
    model = tiny(name, final_dc=4).eval()
    with torch.inference_mode():
        model.quantize_int8()
        block = model.net.blocks[0]
        a, conv = torch.randn(1, 3, 4, 4), nn.Conv2d(3, 3, 1)
        assert torch.equal(rim._conv_relu_for(block.cell1.w, conv, a), conv(a))
        assert rim._conv_relu_for(nn.Conv2d(3, 3, 1), conv, a).min() == 0
        fast = model(*batch)
        monkeypatch.setattr(rim, "_conv_relu_for", lambda reader, conv, x: conv(x).relu_())
        assert torch.equal(model(*batch), fast)


def test_registry_int8_variant(tiny_irim):
    tmp_path, p = tiny_irim
    a = solvers.get("irim", models_dir=tmp_path).run(p)
    q = solvers.get("irim-int8", models_dir=tmp_path)
    assert q.name == "irim" and q.precision == "int8" and solvers.base_name("irim-int8") == "irim"
    b = q.run(p)
    assert b.dtype == np.float32 and 0 < np.abs(a - b).max() < 0.05 * a.max()
    assert isinstance(q.model("cpu").net.blocks[0].conv_mid, int8.Int8Conv2d)
    assert isinstance(solvers.get("irim", models_dir=tmp_path).model("cpu").net.blocks[0].conv_mid, nn.Conv2d)
    with pytest.raises(mrirecon.errors.InputError, match="int8 inference runs on the CPU"):
        q.model("cuda")
    p.device = "cuda"  # a problem placed on a GPU: the int8 variant still runs, on the CPU (never touching CUDA)
    np.testing.assert_array_equal(q.run(p), b)
    assert "irim-int8" in solvers.names(variants=True) and "cs-l1-int8" not in solvers.names(variants=True)


@pytest.mark.skipif(not weights.paths("irim")[0].exists(), reason="no shipped irim weights")
def test_shipped_irim_in_int8_matches_float32(small_acq):
    m = masks.create("gaussian2d", (96, 96), 4, seed=3)
    p = make_problem(small_acq.kspace[:1] * m, m, device="cpu")
    target = small_acq.target[:1]
    fp32, q = solvers.get("irim").run(p), solvers.get("irim-int8").run(p)
    assert abs(mrirecon.metrics.psnr(target, q) - mrirecon.metrics.psnr(target, fp32)) < 0.2
    assert abs(mrirecon.metrics.ssim(target, q) - mrirecon.metrics.ssim(target, fp32)) < 0.003
