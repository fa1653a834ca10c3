"""Model weights: ``models/<name>.safetensors`` plus a JSON model card ``models/<name>.json``.

Loading never unpickles: tensors come from safetensors, the config from JSON. A missing or
corrupt file raises ``WeightsError`` naming the file and the command that makes it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .errors import WeightsError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def paths(name: str, directory=None) -> tuple[Path, Path]:
    d = Path(directory) if directory is not None else MODELS_DIR
    return d / f"{name}.safetensors", d / f"{name}.json"


def version(name: str, directory=None) -> tuple[str, int, int] | None:
    """What identifies the weights file's contents without reading it: (resolved path, size,
    modification time in ns); None when it is missing. Caches of what a file holds (loaded models,
    its hash) key on this, so retrained or updated weights are read anew in a long-lived process."""
    path = paths(name, directory)[0].resolve()
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path), st.st_size, st.st_mtime_ns


def save(model, card: dict, directory=None) -> tuple[Path, Path]:
    """Write the weights and the card (config included) atomically."""
    import os
    import tempfile

    from safetensors.torch import save_file

    wpath, cpath = paths(model.name, directory)
    wpath.parent.mkdir(parents=True, exist_ok=True)
    card = {**card, "name": model.name, "architecture": model.arch, "config": dataclasses.asdict(model.config)}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for path, write in ((wpath, lambda p: save_file(state, p, metadata={"name": model.name})),
                        (cpath, lambda p: Path(p).write_text(json.dumps(card, indent=2) + "\n"))):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        try:
            write(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return wpath, cpath


def load(name: str, directory=None, device="cpu"):
    """The trained :class:`~mrirecon.nn.model.Reconstructor` ``name`` and its card."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .nn.model import Reconstructor, config_from_dict

    wpath, cpath = paths(name, directory)
    hint = f"make it with `mrirecon train {name}`"
    for p in (wpath, cpath):
        if not p.is_file():
            raise WeightsError(f"{p}: weights for {name!r} not found; {hint}")
    try:
        card = json.loads(cpath.read_text())
        model = Reconstructor(name, config_from_dict(card["architecture"], card["config"]))
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{cpath}: corrupt model card ({e}); {hint}") from None
    try:
        state = load_file(str(wpath), device=str(device))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        raise WeightsError(f"{wpath}: corrupt or mismatched weights ({str(e).splitlines()[0]}); {hint}") from None
    return model.to(device).eval(), card
