"""Cell equations against hand computations (1x1 convolutions = per-pixel matrix products)."""
import torch

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
