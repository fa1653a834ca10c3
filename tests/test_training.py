"""Training: the loss, the loop, resume, warm starts, export, distributed runs, configs."""
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mrirecon import weights
from mrirecon.nn.model import Reconstructor, config_from_dict, default_config
from mrirecon.training import TrainConfig, loss_fn, train
from mrirecon.trainset import DataConfig, collate, SimulatedSlices

from tiny_nets import tiny


def test_training_only_the_data_consistency_weights(tmp_path):
    """``trainable="final_dc"``: the network stays as it was, the weights of the final step (its
    per-pixel map included) move, at ``dc_lr``."""
    torch.manual_seed(0)
    start = tiny("irim", final_dc=3, final_dc_noise=True, final_dc_map="hidden")
    original = {k: v.clone() for k, v in start.state_dict().items()}
    weights.save(start, {}, tmp_path / "models")
    weights.save(start, {}, tmp_path / "models2")  # a run exports to its models_dir
    cfg = _tiny_cfg(4, dc_lr=0.1, trainable="final_dc", init_from="irim")
    cfg.model.update(final_dc=3, final_dc_noise=True, final_dc_map="hidden")
    train("irim", cfg, tmp_path / "run", models_dir=tmp_path / "models", log=lambda *a: None)
    after = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    changed = {k for k in after if not torch.equal(after[k], original[k])}
    assert changed == {"net.log_mu", "net.mu_noise", "net.mu_map.conv.weight", "net.mu_map.conv.bias"}, changed
    assert abs(float(after["net.log_mu"] - original["net.log_mu"])) > 0.05  # Adam at 0.1, not lr 3e-3
    cfg.trainable = "final_dc_map"
    train("irim", cfg, tmp_path / "map", models_dir=tmp_path / "models2", log=lambda *a: None)
    after = torch.load(tmp_path / "map" / "checkpoint.pt", weights_only=True)["model"]
    changed = {k for k in after if not torch.equal(after[k], original[k])}
    assert changed == {"net.mu_map.conv.weight", "net.mu_map.conv.bias"}, changed
    with pytest.raises(ValueError, match="no final data-consistency step"):
        train("irim", _tiny_cfg(2, trainable="final_dc"), tmp_path / "x", models_dir=tmp_path / "y",
              log=lambda *a: None)




def test_training_only_the_sparse_step(tmp_path):
    """``trainable="final_l1"``: a model warm-started from one without the sparse step gets it at
    its initial values; only its two numbers move."""
    torch.manual_seed(0)
    start = tiny("irim", final_dc=3, final_dc_map="background")
    weights.save(start, {}, tmp_path / "models")
    cfg = _tiny_cfg(3, dc_lr=0.05, trainable="final_l1", init_from="irim")
    cfg.model.update(final_dc=3, final_dc_map="background", final_l1=3)
    train("irim", cfg, tmp_path / "run", models_dir=tmp_path / "models", log=lambda *a: None)
    after = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    original = start.state_dict()
    changed = {k for k in after if k not in original or not torch.equal(after[k], original[k])}
    assert changed == {"net.l1_step.log_lam", "net.l1_step.log_mu_factor"}, changed
    assert abs(float(after["net.l1_step.log_lam"]) - np.log(3e-3)) > 0.05
    assert float(after["net.l1_step.log_mu_factor"]) != 0


def _tiny_cfg(steps, **kw):
    return TrainConfig(model=dict(channels=8, steps=2), steps=steps, batch_size=2, lr=3e-3, warmup=2,
                       precision="fp32", workers=0, checkpoint_every=3, validate_every=10 ** 6,
                       log_every=1, val_samples=1, val_size=64,
                       data=DataConfig(size=64, crop=48, coils=(2, 3)), **kw)


def _fixed_loss(model, cfg):
    ds = SimulatedSlices(dataclasses.replace(cfg.data, coil_group=4))
    b = collate([ds[10_000 + i] for i in range(4)])
    with torch.no_grad():
        scale, gen = model.normalised_steps(b["kspace"], b["mask"].unsqueeze(1), b["sens"], b["noise_var"])
        return float(loss_fn(list(gen), b["target"] / scale.view(-1, 1, 1)))


def test_training_lowers_the_loss(tmp_path):
    cfg = _tiny_cfg(20)
    torch.manual_seed(cfg.seed)
    before = _fixed_loss(Reconstructor("irim", config_from_dict("rim", {**default_config("irim").__dict__,
                                                                       "channels": 8, "steps": 2})), cfg)
    card = train("irim", cfg, tmp_path / "run", models_dir=tmp_path / "models", log=lambda *a: None)
    after = _fixed_loss(weights.load("irim", tmp_path / "models")[0], cfg)
    assert after < 0.9 * before, (before, after)
    assert card["training_steps"] == 20 and "validation" in card
    assert json.loads((tmp_path / "models" / "irim.json").read_text())["config"]["channels"] == 8


def test_resume_continues_bit_for_bit(tmp_path):
    train("irim", _tiny_cfg(6), tmp_path / "straight", models_dir=tmp_path / "m1", log=lambda *a: None)
    train("irim", _tiny_cfg(6), tmp_path / "split", models_dir=tmp_path / "m2", log=lambda *a: None, stop_at=4)
    train("irim", _tiny_cfg(6), tmp_path / "split", resume=True, models_dir=tmp_path / "m2", log=lambda *a: None)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k



def test_weight_average_follows_its_formula():
    from mrirecon.training import WeightAverage

    net = torch.nn.Linear(2, 1)
    avg = WeightAverage(net, 0.9)
    expected = net.weight.detach().clone()
    for step in range(1, 30):
        with torch.no_grad():
            net.weight.add_(1.0)  # an "optimiser step"
        avg.update(step)
        d = min(0.9, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * net.weight.detach()
        assert torch.allclose(avg.model.weight, expected, atol=1e-6), step
    assert not torch.equal(avg.model.weight, net.weight)


def test_weight_average_is_what_a_run_validates_exports_and_resumes(tmp_path):
    from mrirecon.training import export_checkpoint

    cfg = dataclasses.replace(_tiny_cfg(6, ema=0.8), validate_every=6)
    train("irim", cfg, tmp_path / "straight", models_dir=tmp_path / "m1", log=lambda *a: None)
    train("irim", cfg, tmp_path / "split", models_dir=tmp_path / "m2", log=lambda *a: None, stop_at=4)
    train("irim", cfg, tmp_path / "split", resume=True, models_dir=tmp_path / "m2", log=lambda *a: None)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    assert any(not torch.equal(a["ema"][k], a["model"][k]) for k in a["ema"])
    exported = weights.load("irim", tmp_path / "m1")[0].state_dict()
    for k, v in exported.items():
        assert torch.equal(v, a["ema"][k]), k  # the average was validated at step 6 and exported
    export_checkpoint("irim", tmp_path / "split", tmp_path / "m2")
    for k, v in weights.load("irim", tmp_path / "m2")[0].state_dict().items():
        assert torch.equal(v, b["ema"][k]), k

def test_export_last_checkpoint(tmp_path):
    from mrirecon.training import export_checkpoint, load_config

    cfg = dataclasses.replace(_tiny_cfg(6), validate_every=3)
    train("irim", cfg, tmp_path / "run", models_dir=tmp_path / "m", log=lambda *a: None)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    card = export_checkpoint("irim", tmp_path / "run", tmp_path / "m")
    model, saved = weights.load("irim", tmp_path / "m")
    assert card["training_steps"] == saved["training_steps"] == 6 and saved["validation"]  # step 6 was validated
    for k, v in model.state_dict().items():
        assert torch.equal(v, ckpt["model"][k]), k
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        export_checkpoint("irim", tmp_path / "nothing", tmp_path / "m")
    weights.save(tiny("irim"), {"training_steps": 3, "validation": {}}, tmp_path / "other")
    with pytest.raises(ValueError, match="not exported by the run"):  # e.g. the warm start's source card
        export_checkpoint("irim", tmp_path / "run", tmp_path / "other")
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text('{"final_weight": 2}')
    with pytest.raises(ValueError, match="final_weight must be within"):
        load_config(cfg_file)
    cfg_file.write_text('{"ema": 1.0}')
    with pytest.raises(ValueError, match="ema must be within"):
        load_config(cfg_file)


def test_warm_start_copies_matching_tensors(tmp_path):
    from mrirecon.training import warm_start

    torch.manual_seed(0)
    src = tiny("irim")
    weights.save(src, {"training_steps": 7, "validation": {"x": 1}}, tmp_path)
    cirim = tiny("cirim")
    copied = warm_start(cirim, "irim", tmp_path)
    state = cirim.state_dict()
    for c in range(cirim.config.cascades):  # every cascade starts as the trained IRIM block
        for k, v in src.state_dict().items():
            assert torch.equal(state[k.replace("blocks.0.", f"blocks.{c}.")], v), k
    assert len(copied) == len(state)
    mgu = tiny("rim-mgu")
    before = {k: v.clone() for k, v in mgu.state_dict().items()}
    copied = warm_start(mgu, "irim", tmp_path)  # convolutions match, cells do not
    assert "net.blocks.0.conv_mid.weight" in copied and "net.blocks.0.cell1.w.weight" not in copied
    assert torch.equal(mgu.state_dict()["net.blocks.0.cell1.w.weight"], before["net.blocks.0.cell1.w.weight"])
    cfg = _tiny_cfg(2, init_from="irim")
    train("cirim", dataclasses.replace(cfg, model=dict(channels=8, steps=2, cascades=2)), tmp_path / "run",
          models_dir=tmp_path, log=lambda *a: None, stop_at=1)
    # the source's card (without its validation) is kept with the run for the new card's history
    history = json.loads((tmp_path / "run" / "init_card.json").read_text())
    assert history["training_steps"] == 7 and "validation" not in history
    from mrirecon.training import model_card
    card = model_card("cirim", cfg, 1, 1.0, torch.device("cpu"), {}, tmp_path / "run")
    assert card["started_from"]["training_steps"] == 7


def test_warm_start_identity_cascades_reproduce_the_source(tmp_path, batch):
    """``init_extra_blocks="identity"``: a CIRIM warm-started from an IRIM gives the IRIM's output."""
    from mrirecon.training import warm_start

    torch.manual_seed(0)
    src = tiny("irim", final_dc=4).eval()
    weights.save(src, {}, tmp_path)
    cirim = tiny("cirim", final_dc=4).eval()
    copied = warm_start(cirim, "irim", tmp_path, extra_blocks="identity")
    assert len(copied) == len(cirim.state_dict())
    assert cirim.state_dict()["net.blocks.1.conv_out.weight"].abs().sum() == 0
    assert torch.equal(cirim.state_dict()["net.blocks.1.conv_mid.weight"], src.state_dict()["net.blocks.0.conv_mid.weight"])
    with torch.no_grad():
        np.testing.assert_allclose(cirim(*batch).numpy(), src(*batch).numpy(), rtol=1e-5, atol=1e-6)
        copy = tiny("cirim", final_dc=4).eval()
        warm_start(copy, "irim", tmp_path)  # "copy": the cascades repeat the block, a different output
        assert not torch.allclose(copy(*batch), src(*batch))
    with pytest.raises(ValueError, match="copy or identity"):
        warm_start(cirim, "irim", tmp_path, extra_blocks="zero")
    from mrirecon.training import load_config

    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"init_extra_blocks": "zero"}')  # no init_from: still refused, when the config is read
    with pytest.raises(ValueError, match="init_extra_blocks must be one of copy, identity, got 'zero'"):
        load_config(cfg)
    assert load_config(cfg, init_extra_blocks="identity").init_extra_blocks == "identity"


@pytest.mark.slow
def test_distributed_two_cpu_processes(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": {"channels": 8, "steps": 2}, "steps": 3, "batch_size": 1, "warmup": 1,
                               "precision": "fp32", "workers": 0, "val_samples": 1, "val_size": 64,
                               "data": {"size": 64, "crop": 48, "coils": [2, 2]}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "mrirecon.cli", "train", "irim", "--config", str(cfg), "--out", str(tmp_path / "run"),
           "--models-dir", str(tmp_path / "models"), "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "models" / "irim.safetensors").exists()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-2]["step"] == 3




def test_loss_is_float32_inside_autocast():
    """The training step runs under bf16 autocast; the loss (SSIM's variances) must not."""
    torch.manual_seed(0)
    target = torch.rand(2, 48, 48) * 0.2 + 1.0
    outs = [target + 0.01 * torch.randn_like(target) for _ in range(3)]
    plain = loss_fn(outs, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = loss_fn(outs, target)
    assert torch.allclose(inside, plain, atol=1e-6) and 0 < float(plain) < 0.1


def test_step_weights_final_share():
    from mrirecon.nn.loss import step_weights

    assert step_weights(3) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    w = step_weights(9, final_weight=0.6)
    assert sum(w) == pytest.approx(1) and w[-1] == 0.6 and w[7] == pytest.approx(0.4 * 8 / 36)
    assert step_weights(1, final_weight=0.6) == [1.0]
    with pytest.raises(ValueError, match="final_weight"):
        step_weights(4, final_weight=1.5)
    target = torch.ones(1, 16, 16)
    bad_early = [torch.zeros_like(target), target.clone()]  # only the last output is right
    assert float(loss_fn(bad_early, target, final_weight=0.9)) < float(loss_fn(bad_early, target))


def test_training_field_of_view_and_coil_phase_ranges():
    from mrirecon.trainset import DataConfig, subject

    fixed = DataConfig(seed=3)
    ranged = DataConfig(seed=3, fov_mm=(205.0, 250.0), coil_phase=(0.0, 4.0))
    fovs = [subject(ranged, k).fov_mm for k in range(20)]
    phases = [subject(ranged, k).coil_phase for k in range(20)]
    assert all(subject(fixed, k).fov_mm == 240.0 and subject(fixed, k).coil_phase == 0 for k in range(5))
    assert all(205.0 <= f <= 250.0 for f in fovs) and len(set(fovs)) == 20
    assert all(0 <= p <= 4.0 for p in phases) and len(set(phases)) == 20
    # each range draws from its own stream: the other factors of a subject stay as they were
    assert [subject(fixed, k)[:3] for k in range(5)] == [subject(ranged, k)[:3] for k in range(5)]
    assert fovs == [subject(DataConfig(seed=3, fov_mm=(205.0, 250.0)), k).fov_mm for k in range(20)]
    mixed = DataConfig(seed=3, scalp=("bands", "layers"))
    assert {subject(fixed, k).scalp for k in range(20)} == {"bands"}
    assert {subject(mixed, k).scalp for k in range(20)} == {"bands", "layers"}
    assert [subject(fixed, k)[:-1] for k in range(20)] == [subject(mixed, k)[:-1] for k in range(20)]


def test_a_config_with_an_unknown_scalp_is_refused_when_read(tmp_path):
    from mrirecon.training import load_config

    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"data": {"scalp": ["bands", "helmet"]}}')
    with pytest.raises(ValueError, match="data.scalp must list some of bands, layers"):
        load_config(cfg)
    cfg.write_text('{"data": {"scalp": ["layers"]}}')
    assert load_config(cfg).data.scalp == ("layers",)
    cfg.write_text('{"val_scalp": "helmet"}')
    with pytest.raises(ValueError, match="val_scalp must be one of bands, layers"):
        load_config(cfg)


def test_validation_heads_follow_val_scalp(monkeypatch):
    """``validate(scalp=...)`` (``TrainConfig.val_scalp``) draws the simulated validation slices
    with that head and the same seed, subjects and masks."""
    from mrirecon import training

    class Drawn(Exception):
        pass

    def first_draw(scalp):
        def record(cfg, i, **kw):
            raise Drawn(cfg, i, kw)
        monkeypatch.setattr(training, "make_sample", record)
        with pytest.raises(Drawn) as e:
            training.validate(tiny("irim"), "cpu", n_samples=1, scalp=scalp)
        return e.value.args

    (layers, i, kw), (bands, j, kw2) = first_draw("layers"), first_draw("bands")
    assert layers.scalp == ("layers",) and bands.scalp == ("bands",)
    assert dataclasses.replace(layers, scalp=()) == dataclasses.replace(bands, scalp=()) and (i, kw) == (j, kw2)


def test_a_warm_started_run_exports_only_what_beats_its_start(tmp_path):
    """A fresh ``init_from`` run validates the weights it starts from first; a run that never beats
    them leaves models_dir as it was (here lr 5: Adam's first steps wreck the network). With
    ``validate_start=False`` its last step is exported."""
    torch.manual_seed(0)
    weights.save(tiny("irim"), {"training_steps": 7}, tmp_path / "models")
    wpath, cpath = weights.paths("irim", tmp_path / "models")
    before = wpath.read_bytes(), cpath.read_text()
    lines = []
    cfg = dataclasses.replace(_tiny_cfg(2, init_from="irim"), lr=5.0)
    card = train("irim", cfg, tmp_path / "run", models_dir=tmp_path / "models", log=lines.append)
    assert (wpath.read_bytes(), cpath.read_text()) == before and card == {}
    records = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "validation" in r] == [0, 2]
    assert any("no validated step beat the starting weights" in x for x in lines)
    from mrirecon.training import export_checkpoint  # its last step can still be exported, with its config

    with pytest.raises(ValueError, match="nothing was exported by it"):
        export_checkpoint("irim", tmp_path / "run", tmp_path / "models")
    assert (wpath.read_bytes(), cpath.read_text()) == before
    card = export_checkpoint("irim", tmp_path / "run", tmp_path / "models", cfg)
    saved = json.loads(cpath.read_text())
    assert saved["training_steps"] == card["training_steps"] == 2 and saved["training"]["lr"] == 5.0
    assert saved["validation"] == records[-1]["validation"] and saved["started_from"]["training_steps"] == 7
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    exported = weights.load("irim", tmp_path / "models")[0].state_dict()
    assert all(torch.equal(v, ckpt["model"][k]) for k, v in exported.items())
    weights.save(tiny("irim"), {"training_steps": 7}, tmp_path / "models")  # the start again, for the run below
    card = train("irim", dataclasses.replace(cfg, validate_start=False, lr=1e-4), tmp_path / "run2",
                 models_dir=tmp_path / "models", log=lambda *a: None)
    assert card["training_steps"] == 2 and json.loads(cpath.read_text())["training_steps"] == 2


@pytest.mark.parametrize("name", ["rim", "recurrentvarnet"])
def test_recompute_gives_the_same_gradients(name, batch):
    """``TrainConfig.recompute``: every recurrent step recomputed in the backward pass; the same loss
    and gradients as keeping its activations (and nothing changes without gradients)."""
    from mrirecon.training import set_recompute

    torch.manual_seed(0)
    model = tiny(name, final_dc=4)
    y, mask, sens, nv = batch
    target = model(y, mask, sens, nv).detach() * 1.1
    grads, kept = [], []
    for on in (False, True):
        assert set_recompute(model, on) == len(model.net.blocks)
        model.zero_grad()
        saved = []  # the activations autograd keeps for the backward pass (recomputed ones are not)
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            loss = loss_fn(list(model.iterate(y, mask, sens, nv)), target)
        loss.backward()
        kept.append(sum(saved))
        grads.append((float(loss), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    assert kept[1] < 0.7 * kept[0]
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-6)
    assert len(grads[0][1]) == len(grads[1][1]) > 0
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        model(y, mask, sens, nv)  # no gradients: the plain step
