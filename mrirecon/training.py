"""Training of the learned solvers: loop, checkpoints and bit-for-bit resume, validation,
distributed data parallel (``torchrun``), export to ``models/`` (warm start, model cards and the
export of a last checkpoint: ``mrirecon.runs``).

Loss: ``mrirecon.nn.loss`` on images normalised by the network's own data scale. Adam with linear warm-up
and cosine decay. channels_last always; precision ``auto`` trains under bf16 autocast where bf16 is
the faster arithmetic (CUDA, CPUs with AMX: ~3x over float32, GUIDE §9, and CPUs with AVX-512 BF16
where a bf16 convolution measures faster: ``runtime.fast_bf16``) and in float32 elsewhere (on a
Xeon with AVX-512 BF16 but no AMX float32 was 1.2-1.4x faster). The process and its
data workers run with ``runtime.tune_malloc`` (a float32 step spent most of its time in page
faults without it).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import weights
from .nn.loss import loss_fn, ssim_torch, step_weights  # noqa: F401  (part of the training API)
from .nn.model import MODELS, Reconstructor, config_from_dict
from .runtime import fast_bf16, tune_malloc
from .simulate import SCALPS
from .runs import EXTRA_BLOCKS, WeightAverage, export_checkpoint, model_card, warm_start  # noqa: F401  (part of the training API)
from .trainset import DataConfig, IndexStream, SimulatedSlices, collate, make_sample


@dataclass
class TrainConfig:
    model: dict = field(default_factory=dict)  # overrides of the model's default config
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 2000
    batch_size: int = 4
    lr: float = 1e-3
    lr_min: float = 1e-5
    warmup: int = 50
    grad_clip: float = 1.0
    precision: str = "auto"  # auto | fp32 | bf16
    workers: int = 1
    seed: int = 0
    checkpoint_every: int = 100
    validate_every: int = 500
    log_every: int = 10
    val_samples: int = 2  # per contrast and mask
    val_size: int = 256  # matrix of the validation slices
    val_scalp: str = "bands"  # the simulated validation heads (SimConfig.scalp; "bands" for every run until 2026-12-02)
    time_budget_s: float = 0.0  # > 0: at the end of warm-up, set `steps` to fill this wall time
    init_from: str = ""  # warm start (fresh runs only): a trained method in models_dir, see warm_start
    init_extra_blocks: str = "copy"  # copy | identity: blocks the source lacks (a CIRIM's later cascades), see warm_start
    dc_lr: float = 0.0  # > 0: peak learning rate of the final steps' weights (log_mu, mu_noise, mu_map, l1_step)
    # all | final_dc (the network frozen: only its final steps' weights learn) | final_dc_map (only its weight
    # map) | final_l1 (only the sparse step's two numbers)
    trainable: str = "all"
    final_weight: float = 0.0  # > 0: the last output's share of the loss (nn.loss.step_weights); 0: linear in the step
    # a fresh warm-started run (init_from) first validates the weights it starts from, and exports only
    # a step that beats them: fine-tuning into models/ never replaces trained weights by worse ones
    validate_start: bool = True
    # keep only each recurrent step's inputs and recompute its activations in the backward pass
    # (torch.utils.checkpoint): a fraction of the memory for about a third more compute per step
    recompute: bool = False
    # > 0: validate and export an exponential moving average of the weights (decay per step, e.g.
    # 0.99 averages over the last ~100 steps; ramped up as min(ema, (1 + t) / (10 + t)) over the run's
    # first steps) instead of the last step's: fine-tunes whose validation jumps between checkpoints
    ema: float = 0.0


def load_config(path=None, **overrides) -> TrainConfig:
    values = json.loads(Path(path).read_text()) if path else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    data = values.pop("data", {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown training config keys: {', '.join(sorted(unknown))}")
    dkeys = {f.name for f in dataclasses.fields(DataConfig)}
    if set(data) - dkeys:
        raise ValueError(f"unknown data config keys: {', '.join(sorted(set(data) - dkeys))}")
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    cfg = TrainConfig(data=DataConfig(**data), **values)
    for key, allowed in CHOICES.items():  # checked here too, not only where (or whether) each is used
        if getattr(cfg, key) not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {getattr(cfg, key)!r}")
    if not cfg.data.scalp or set(cfg.data.scalp) - set(SCALPS):
        raise ValueError(f"data.scalp must list some of {', '.join(SCALPS)}, got {list(cfg.data.scalp)}")
    if cfg.val_scalp not in SCALPS:
        raise ValueError(f"val_scalp must be one of {', '.join(SCALPS)}, got {cfg.val_scalp!r}")
    if not 0.0 <= cfg.final_weight <= 1.0:
        raise ValueError(f"final_weight must be within [0, 1], got {cfg.final_weight}")
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(f"ema must be within [0, 1), got {cfg.ema}")
    return cfg


CHOICES = {"precision": ("auto", "fp32", "bf16"), "init_extra_blocks": EXTRA_BLOCKS,
           "trainable": ("all", "final_dc", "final_dc_map", "final_l1")}


# --- helpers ---------------------------------------------------------------------------------

def set_recompute(model: torch.nn.Module, on: bool) -> int:
    """Switch activation recomputation (``TrainConfig.recompute``) on or off in every recurrent
    block of ``model``; the number of blocks."""
    from .nn.rim import RIMBlock

    blocks = [m for m in model.modules() if isinstance(m, RIMBlock)]
    for b in blocks:
        b.recompute = on
    return len(blocks)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of training (None: float32). ``auto``: bf16 where it is faster than
    float32 (``runtime.fast_bf16``: CUDA with bf16, CPUs with AMX or with AVX-512 BF16 that measures
    faster), float32 elsewhere."""
    if precision == "fp32" or (precision == "auto" and not fast_bf16(device)):
        return None
    if precision in ("bf16", "auto"):
        return torch.bfloat16
    raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * min(t, 1.0)))


DC_PARAMETERS = ("log_mu", "mu_noise")  # the learned final data-consistency step (mrirecon.nn.common)
DC_MODULE = "mu_map"  # ... and its per-pixel weight map (config final_dc_map, nn.common.WeightMap)
L1_MODULE = "l1_step"  # ... and the sparse step after it (config final_l1, nn.common.SparseStep)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the trainable parameters (``cfg.trainable``). The final steps' weights (data
    consistency, its map, the sparse step) get their own group when ``cfg.dc_lr`` is set: they are a few scalars on a log scale that need
    steps of order 1, which Adam at a network's learning rate (~1e-4 per step) takes thousands of
    steps to make. Both groups follow the same warm-up and cosine schedule (``lr_scale``).
    ``trainable="final_dc_map"`` trains the per-pixel map alone, its constant weight kept: trained
    on simulated data that constant rises to what suits the simulator (irim: 0.053 -> 0.16 in 150
    steps, runs/irim_bg), where the network is more accurate than on real scans (real scan,
    equispaced 4x: -0.6 dB)."""
    if cfg.trainable not in CHOICES["trainable"]:
        raise ValueError(f"trainable must be {' or '.join(CHOICES['trainable'])}, got {cfg.trainable!r}")
    dc, rest = [], []
    for name, p in model.named_parameters():
        parts = name.split(".")
        is_map, is_l1 = DC_MODULE in parts, L1_MODULE in parts
        is_dc = parts[-1] in DC_PARAMETERS or is_map or is_l1
        if ((cfg.trainable == "final_dc" and not is_dc) or (cfg.trainable == "final_dc_map" and not is_map)
                or (cfg.trainable == "final_l1" and not is_l1)):
            p.requires_grad_(False)
            continue
        (dc if is_dc and cfg.dc_lr > 0 else rest).append(p)
    if not dc and not rest:
        raise ValueError(f"trainable={cfg.trainable!r}: {model.name} has no final data-consistency step, "
                         "weight map or sparse step (set final_dc / final_dc_map / final_l1 in the model config)")
    groups = [{"params": ps, "lr_scale": scale} for ps, scale in
              ((rest, 1.0), (dc, cfg.dc_lr / cfg.lr)) if ps]
    return torch.optim.Adam(groups, lr=cfg.lr)


class _Bar:
    """A rich progress bar on an interactive terminal (log lines are written either way)."""

    def __init__(self, method, step, total):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.p = Progress(TextColumn(f"{method}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn())
        self.task = self.p.add_task("train", total=total, completed=step, loss=float("nan"))
        self.p.start()

    def update(self, step, total, loss):
        self.p.update(self.task, completed=step, total=total, loss=loss)

    def close(self):
        self.p.stop()


def _progress_bar(method, step, total):
    import sys

    return _Bar(method, step, total) if sys.stdout.isatty() else None


def _one_thread(_worker_id):
    torch.set_num_threads(1)
    tune_malloc()


def _dist():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


# --- validation ------------------------------------------------------------------------------

VAL_SEED = 987_654  # never a training seed: training uses DataConfig.seed (default 0)
VAL_MASKS = (("equispaced", 4.0), ("gaussian2d", 8.0))


def validate(model: Reconstructor, device, n_samples: int = 2, real_scan=None, size: int = 256,
             scalp: str = "bands") -> dict:
    """Held-out simulated T2w and FLAIR slices with lesions (full 256^2 slices, unseen contrasts;
    heads of kind ``scalp``) and, when given, the shared real scan; fastMRI metrics per (data, mask)."""
    from . import metrics
    from .api import make_problem

    cfg = DataConfig(seed=VAL_SEED, size=size, crop=0, lesions=(3, 6), coils=(8, 8), snr=(30.0, 30.0),
                     scalp=(scalp,))
    results = {}
    model.eval()
    sets = [(c, [make_sample(cfg, i, contrast=c, mask_kind=k, acceleration=a) for i in range(n_samples)], k, a)
            for c in ("t2w", "flair") for k, a in VAL_MASKS]
    for contrast, samples, kind, accel in sets:
        scores = []
        for s in samples:
            out = _infer(model, s.kspace[None], s.mask, s.sens[None], s.noise_var, device)
            scores.append(metrics.evaluate(s.target[None], out))
        results[f"sim-{contrast} {kind} {accel:g}x"] = {k: float(np.mean([d[k] for d in scores])) for k in scores[0]}
    if real_scan is not None:
        from . import masks

        for kind, accel in VAL_MASKS:
            m = masks.create(kind, real_scan.shape, accel, 0.08 if kind == "equispaced" else None, seed=0)
            p = make_problem(real_scan.kspace * m, m, device="cpu")
            out = _infer(model, p.kspace, p.mask, p.sens, p.noise_var, device)
            results[f"real-t2 {kind} {accel:g}x"] = metrics.evaluate(real_scan.target, out)
    model.train()
    return results


def _log_validation(model, dev, cfg: TrainConfig, real_scan, step: int, logf, log) -> tuple[dict, float]:
    """Validate, write the record to the run's log and the console; (metrics, mean SSIM: the export score)."""
    val = validate(model, dev, cfg.val_samples, real_scan, cfg.val_size, cfg.val_scalp)
    logf.write(json.dumps({"step": step, "validation": val}) + "\n")
    logf.flush()
    for name, v in val.items():
        log(f"  val {name}: SSIM {v['ssim']:.4f} PSNR {v['psnr']:.2f}")
    return val, float(np.mean([v["ssim"] for v in val.values()]))


def _infer(model, k, mask, sens, noise_var, device) -> np.ndarray:
    with torch.inference_mode():
        y = torch.from_numpy(np.ascontiguousarray(k)).to(device)
        m = torch.from_numpy(np.ascontiguousarray(mask)).to(device)
        s = torch.from_numpy(np.ascontiguousarray(sens)).to(device)
        nv = torch.full((y.shape[0],), float(noise_var), device=device)
        return model(y, m, s, nv).float().cpu().numpy()


# --- the loop --------------------------------------------------------------------------------

def train(method: str, cfg: TrainConfig, out_dir, resume: bool = False, device: str = "auto",
          models_dir=None, real_scan=None, log=print, stop_at: int | None = None) -> dict:
    """Train ``method``; checkpoints and ``log.jsonl`` in ``out_dir``; the weights with the best
    mean validation SSIM so far are exported to ``models_dir`` (default ``models/``). Returns the
    card of the model this run exported, or ``{}`` when it exported none (a warm start that no
    validated step beat: ``models_dir`` is left as it was).

    ``stop_at`` ends this run early at that step (with a checkpoint), as a kill would; ``resume``
    continues from the checkpoint, bit for bit. A resumed time-budgeted run keeps the step count
    it had settled on.
    """
    if method not in MODELS:
        raise ValueError(f"{method!r} is not a learned method ({', '.join(MODELS)})")
    rank, world = _dist()
    tune_malloc()
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    arch = MODELS[method][0]
    base = dataclasses.asdict(MODELS[method][1])
    model = Reconstructor(method, config_from_dict(arch, {**base, **cfg.model})).to(dev)
    amp = resolve_precision(cfg.precision, dev)
    log(f"precision {cfg.precision}: {'bf16 autocast' if amp is not None else 'float32'} on {dev}")
    model = model.to(memory_format=torch.channels_last)
    set_recompute(model, cfg.recompute)
    opt = make_optimizer(model, cfg)
    ckpt_path = out / "checkpoint.pt"
    step, wall, best, exported = 0, 0.0, -float("inf"), False
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, wall = int(ckpt["step"]), float(ckpt["wall"])
        best = float(ckpt.get("best", best))
        exported = bool(ckpt.get("exported", np.isfinite(best)))  # (older checkpoints: a finite best was exported)
        if cfg.time_budget_s > 0:
            cfg = dataclasses.replace(cfg, steps=int(ckpt["steps"]), time_budget_s=0.0)
        log(f"resumed {method} at step {step} from {ckpt_path}")
    elif cfg.init_from:
        source_card = weights.paths(cfg.init_from, models_dir)[1]
        if source_card.is_file():  # kept with the run: the source may be overwritten by this run's export
            history = json.loads(source_card.read_text())
            history.pop("validation", None)
            (out / "init_card.json").write_text(json.dumps(history, indent=1))
        copied = warm_start(model, cfg.init_from, models_dir, cfg.init_extra_blocks)
        n_all = len(model.state_dict())
        log(f"warm start from {cfg.init_from}: {len(copied)} of {n_all} tensors copied")
    average = WeightAverage(model, cfg.ema) if cfg.ema > 0 else None
    if average is not None and resume and ckpt_path.exists():
        if "ema" in ckpt:
            average.model.load_state_dict(ckpt["ema"])
        else:
            log(f"  {ckpt_path} holds no weight average: it starts from the step-{step} weights")
    judged = model if average is None else average.model  # what validation sees and export saves
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    data_cfg = dataclasses.replace(cfg.data, coil_group=cfg.batch_size)
    loader = torch.utils.data.DataLoader(
        SimulatedSlices(data_cfg), batch_size=cfg.batch_size, collate_fn=collate, num_workers=cfg.workers,
        sampler=IndexStream(step * cfg.batch_size, rank, world), persistent_workers=False,
        prefetch_factor=4 if cfg.workers > 0 else None, worker_init_fn=_one_thread)
    logf = open(out / "log.jsonl", "a") if rank == 0 else None
    card = {}
    if rank == 0 and step == 0 and cfg.init_from and cfg.validate_start:
        _, best = _log_validation(judged, dev, cfg, real_scan, step, logf, log)
        log(f"  the starting weights (from {cfg.init_from}): mean validation SSIM {best:.4f}; a step must "
            f"beat it to be exported")
    wall_mark = 0.0
    bar = _progress_bar(method, step, cfg.steps) if rank == 0 else None
    t_last = time.perf_counter()
    model.train()
    batches = iter(loader)
    while step < min(cfg.steps, stop_at or cfg.steps):
        batch = {k: v.to(dev, non_blocking=True) for k, v in next(batches).items()}
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg) * g.get("lr_scale", 1.0)
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            scale, gen = (net.module if world > 1 else net).normalised_steps(
                batch["kspace"], batch["mask"].unsqueeze(1), batch["sens"], batch["noise_var"])
            outputs = list(gen)
            loss = loss_fn(outputs, batch["target"] / scale.view(-1, 1, 1), cfg.final_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # under DDP the gradients are averaged over ranks here
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        if average is not None:
            average.update(step)
        now = time.perf_counter()
        wall += now - t_last
        t_last = now
        if cfg.time_budget_s > 0 and step == max(cfg.warmup // 2, 1):
            wall_mark = wall  # the rate is measured from here to the end of warm-up (after start-up)
        if cfg.time_budget_s > 0 and step == max(cfg.warmup, 2):
            rate = (wall - wall_mark) / (step - max(cfg.warmup // 2, 1))
            steps = max(step + int((cfg.time_budget_s - wall) / rate), step + 1)
            if world > 1:  # every rank must stop at the same step
                t = torch.tensor([steps], device=dev)
                torch.distributed.broadcast(t, 0)
                steps = int(t)
            cfg = dataclasses.replace(cfg, steps=steps, time_budget_s=0.0)
            log(f"{rate:.3f} s/step after start-up: training for {cfg.steps} steps")
        if bar is not None:
            bar.update(step, cfg.steps, float(loss.detach()))
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            rec = {"step": step, "loss": float(loss.detach()), "lr": lr_at(step - 1, cfg), "wall_s": round(wall, 1)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log(f"{method} step {step}/{cfg.steps} loss {rec['loss']:.4f} lr {rec['lr']:.2e} "
                f"{wall / step:.2f} s/step")
        last = step == cfg.steps
        if rank == 0 and (step % cfg.validate_every == 0 or last):
            val, score = _log_validation(judged, dev, cfg, real_scan, step, logf, log)
            if score > best:  # export the best validated model (mean SSIM over the validation sets)
                best = score
                card = model_card(method, cfg, step, wall, dev, val, out)
                weights.save(judged, card, models_dir)
                exported = True
                log(f"  exported weights of step {step} (mean validation SSIM {score:.4f})")
            elif last and not exported:
                what = "beat the starting weights" if np.isfinite(best) else "had a finite score"
                log(f"  no validated step {what} (best mean validation SSIM {best:.4f}): "
                    f"nothing exported to {models_dir or weights.MODELS_DIR}")
            t_last = time.perf_counter()  # validation time is not training time
        if rank == 0 and (step % cfg.checkpoint_every == 0 or last or step == stop_at):
            torch.save({"step": step, "steps": cfg.steps, "wall": wall, "best": best, "exported": exported,
                        "model": model.state_dict(), "optimizer": opt.state_dict(),
                        **({} if average is None else {"ema": average.model.state_dict()})},
                       ckpt_path.with_suffix(".tmp"))
            os.replace(ckpt_path.with_suffix(".tmp"), ckpt_path)
    if logf:
        logf.close()
    if bar is not None:
        bar.close()
    if world > 1:
        torch.distributed.barrier()
    # an earlier validation (of this run, maybe before a resume) was the best; ranks > 0 export
    # nothing themselves and read what rank 0 left
    if not card and (exported or rank > 0) and weights.paths(method, models_dir)[1].exists():
        card = json.loads(weights.paths(method, models_dir)[1].read_text())
    return card
