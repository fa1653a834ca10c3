"""Weights in and out of a training run: the warm start from a trained method, the model card
saved next to the exported weights, the weight average a run validates (``TrainConfig.ema``) and
the export of a run's last checkpoint."""
from __future__ import annotations

import dataclasses
import json
import platform
import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import __version__, weights

if TYPE_CHECKING:
    from .nn.model import Reconstructor
    from .training import TrainConfig

EXTRA_BLOCKS = ("copy", "identity")  # TrainConfig.init_extra_blocks, see warm_start


def warm_start(model: Reconstructor, source: str, models_dir=None, extra_blocks: str = "copy") -> list[str]:
    """Copy every tensor of the trained method ``source`` whose name and shape match into ``model``;
    cascade/step blocks of ``model`` (``blocks.N``) take ``blocks.0`` of the source when it has no
    ``blocks.N``: a CIRIM starts with each cascade equal to a trained IRIM, a RIM-MGU with an
    IRIM's convolutions. ``extra_blocks="identity"`` zeroes those borrowed blocks' output
    convolution instead, so that they start by passing the estimate through: a CIRIM then begins
    exactly as the IRIM it came from (running the same block 5 times in cascade, untrained, makes
    the estimate diverge) and its later cascades learn corrections on top. Returns the names of
    the copied tensors."""
    if extra_blocks not in EXTRA_BLOCKS:
        raise ValueError(f"init_extra_blocks must be {' or '.join(EXTRA_BLOCKS)}, got {extra_blocks!r}")
    src = weights.load(source, models_dir, "cpu")[0].state_dict()
    state = model.state_dict()
    copied = []
    for name, tensor in state.items():
        for cand in (name, re.sub(r"blocks\.\d+\.", "blocks.0.", name)):
            if cand in src and src[cand].shape == tensor.shape:
                with torch.no_grad():
                    if cand != name and extra_blocks == "identity" and ".conv_out." in name:
                        tensor.zero_()
                    else:
                        tensor.copy_(src[cand].to(tensor.device))
                copied.append(name)
                break
    return copied


class WeightAverage:
    """An exponential moving average of a model's floating-point weights and buffers, in a copy of
    the model that validation and export use (``TrainConfig.ema``)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        import copy

        self.decay = decay
        self.model = copy.deepcopy(model)
        self._live = [t for t in model.state_dict().values() if t.is_floating_point()]
        self._avg = [t for t in self.model.state_dict().values() if t.is_floating_point()]

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After optimiser step ``step`` (1-based, counted from the run's start or its warm start)."""
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self._avg, self._live, 1.0 - d)


def export_checkpoint(method: str, out_dir, models_dir=None, cfg: TrainConfig | None = None) -> dict:
    """Export the model in ``out_dir/checkpoint.pt`` (the run's last checkpointed step) to
    ``models_dir`` instead of the best validated one ``train`` exported there: a run's later
    steps can do better on data the validation does not cover. The card is the run's exported
    card with this step's count, wall time and validation (from ``log.jsonl``, when that step was
    validated; otherwise none). A warm-started run that exported nothing (no validated step beat
    its start) has no such card: then ``cfg``, the run's training config, gives a new one
    (:func:`model_card`, with the start's card from ``init_card.json``). A run with a weight average
    (``TrainConfig.ema``) exports the average, the weights it validated. Returns the card."""
    out_dir = Path(out_dir)
    ckpt_path = out_dir / "checkpoint.pt"
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"{ckpt_path}: no checkpoint to export")
    model, card = weights.load(method, models_dir, "cpu")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt.get("ema", ckpt["model"]))  # a run with TrainConfig.ema validated its average
    step = int(ckpt["step"])
    log_path = out_dir / "log.jsonl"
    validated = {}  # step -> validation, of this run
    if log_path.is_file():
        for line in log_path.read_text().splitlines():
            rec = json.loads(line)
            if "validation" in rec:
                validated[rec["step"]] = rec["validation"]
    validation = validated.get(step)
    exported = ckpt.get("exported", True)  # (older checkpoints do not say)
    if exported and validated.get(card.get("training_steps")) == card.get("validation"):
        card = {**card, "training_steps": step, "wall_time_s": round(float(ckpt["wall"]), 1),
                "validation": validation}
    elif not exported and cfg is not None:
        card = model_card(method, cfg, step, float(ckpt["wall"]), torch.device("cpu"), validation, out_dir)
    else:
        what = "its training and data settings would be wrong for this checkpoint" if exported else \
            "nothing was exported by it: pass its training config"
        raise ValueError(f"the {method} card in {models_dir or weights.MODELS_DIR} was not exported by the run in "
                         f"{out_dir}: {what}")
    card["exported"] = "last checkpoint (mrirecon.runs.export_checkpoint)"
    for key in ("name", "architecture", "config"):
        card.pop(key, None)
    weights.save(model, card, models_dir)
    return card


def model_card(method, cfg: TrainConfig, step, wall, dev, validation, out_dir=None) -> dict:
    """The JSON card saved next to the weights; a warm-started run carries the card of the model it
    started from under ``started_from`` (recursively: the whole training history)."""
    hw = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    history = Path(out_dir) / "init_card.json" if out_dir is not None else None
    started = {"started_from": json.loads(history.read_text())} if history is not None and history.is_file() else {}
    return {
        "method": method, "training_steps": step, "batch_size": cfg.batch_size,
        "wall_time_s": round(wall, 1), "hardware": hw, "precision": cfg.precision,
        "training": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()},
        "training_data": "simulated T1-weighted brain only (mrirecon.trainset, MNI152 anatomy, random "
                         "deformation/coils/SNR/masks {:g}-{:g}x; settings under training.data); ESPIRiT maps"
                         .format(*cfg.data.accelerations),
        "validation": validation, "date": time.strftime("%Y-%m-%d"),
        "code_version": f"mrirecon {__version__} ({_git_commit()})", "torch": torch.__version__,
        **started,
    }


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
