"""Cell equations against hand computations (1x1 convolutions = per-pixel matrix products)."""
import pytest
import torch

from mrirecon.nn import fused
from mrirecon.nn.cells import MGU, ConvGRU, IndRNN


def _lin(conv, x):
    """A 1x1 convolution written out: W x + b per pixel."""
    w = conv.weight[:, :, 0, 0]
    out = torch.einsum("oi,bihw->bohw", w, x)
    return out + conv.bias.view(1, -1, 1, 1) if conv.bias is not None else out


def _inputs(cin=3, hidden=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, cin, 5, 6, generator=g), torch.randn(2, hidden, 5, 6, generator=g)


def test_gru_equations():
    torch.manual_seed(1)
    cell = ConvGRU(3, 4)
    x, h = _inputs()
    wz, wr, wc = _lin(cell.w, x).chunk(3, 1)
    uz, ur = _lin(cell.u, h).chunk(2, 1)
    z, r = torch.sigmoid(wz + uz), torch.sigmoid(wr + ur)
    c = torch.tanh(wc + _lin(cell.uc, r * h))
    assert torch.allclose(cell(x, h), (1 - z) * h + z * c, atol=1e-6)


def test_mgu_equations():
    torch.manual_seed(2)
    cell = MGU(3, 4)
    x, h = _inputs()
    wf, wc = _lin(cell.w, x).chunk(2, 1)
    f = torch.sigmoid(wf + _lin(cell.uf, h))
    c = torch.tanh(wc + f * _lin(cell.uc, h))
    assert torch.allclose(cell(x, h), c + f * (h - c), atol=1e-6)


def test_indrnn_equations():
    torch.manual_seed(3)
    cell = IndRNN(3, 4)
    x, h = _inputs()
    expected = torch.relu(_lin(cell.w, x) + cell.u.view(1, -1, 1, 1) * h)
    assert torch.allclose(cell(x, h), expected, atol=1e-6)
    # no recurrent convolution: channel i of h' depends on channel i of h only
    h2 = h.clone()
    h2[:, 1] += 1.0
    diff = (cell(x, h2) - cell(x, h)).abs().sum(dim=(0, 2, 3))
    assert diff[1] > 0 and diff[[0, 2, 3]].sum() == 0


def test_recurrent_states_stay_channels_last():
    """Every state a model's recurrent blocks receive is channels_last, like the convolution outputs
    they are combined with (mixed layouts send the cells' elementwise arithmetic to a strided kernel
    15-20x slower). Checked for each cell and for RecurrentVarNet's learned initial states."""
    from tiny_nets import tiny

    from mrirecon.nn.rim import RIMBlock

    seen = []
    orig = RIMBlock._step

    def spy(self, inp, hidden):
        seen.extend(h.is_contiguous(memory_format=torch.channels_last) for h in hidden)
        return orig(self, inp, hidden)

    g = torch.Generator().manual_seed(0)
    sens = torch.randn(1, 3, 16, 16, dtype=torch.complex64, generator=g)
    y = torch.randn(1, 3, 16, 16, dtype=torch.complex64, generator=g)
    mask = torch.ones(16, 16)
    RIMBlock._step = spy
    try:
        for name in ("rim", "rim-mgu", "irim", "recurrentvarnet"):
            seen.clear()
            with torch.no_grad():
                list(tiny(name).net.steps(y, mask, sens))
            assert seen and all(seen), name
    finally:
        RIMBlock._step = orig


def _channels_last(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not fused.available(), reason="no oneDNN pointwise convolutions in this build")
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 0.05)])
def test_fused_convolutions_match_unfused(dtype, tol):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 8, 3, padding=2, dilation=2).to(dtype)
    x, other = _channels_last(1, 16, 20, 24, dtype=dtype), _channels_last(1, 8, 20, 24, dtype=dtype, seed=1)
    with torch.inference_mode():
        assert fused.usable(conv, x)
        want = conv(x).float()
        got = fused.conv_relu(conv, x)
        added = fused.conv_add_relu(conv, x, other.clone())
    for out, ref in ((got, want.relu()), (added, (want + other.float()).relu())):
        assert out.dtype == dtype and out.is_contiguous(memory_format=torch.channels_last)
        assert (out.float() - ref).abs().max() <= tol * ref.abs().max()


def test_fused_convolutions_only_for_inference():
    conv = torch.nn.Conv2d(4, 4, 1)
    x = _channels_last(1, 4, 6, 6)
    assert not fused.usable(conv, x)  # gradients enabled: training keeps the unfused graph
    with torch.inference_mode():
        assert not fused.usable(conv, x.contiguous())  # NCHW
        assert not fused.usable(conv, x.to(torch.float16))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not fused.usable(conv, x)  # training's validation under autocast


@pytest.mark.skipif(not fused.available(), reason="no oneDNN pointwise convolutions in this build")
def test_indrnn_fused_and_unfused_agree(monkeypatch):
    torch.manual_seed(2)
    cell = IndRNN(6, 8)
    x, h = _channels_last(1, 6, 9, 7), _channels_last(1, 8, 9, 7, seed=3).relu()
    want = torch.relu(_lin(cell.w, x) + cell.u.view(1, -1, 1, 1) * h)
    with torch.inference_mode():
        got = cell(x, h)
        monkeypatch.setattr(fused, "_AVAILABLE", False)
        unfused = cell(x, h)
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(unfused, want, atol=1e-5)
