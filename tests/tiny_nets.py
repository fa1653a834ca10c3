"""Tiny networks of every learned method for the tests (8 channels, 2 steps, 2 cascades)."""
from mrirecon.nn.model import MODELS, Reconstructor, config_from_dict, default_config

TINY = {"rim": dict(channels=8, steps=2), "recurrentvarnet": dict(channels=8, steps=2)}


def tiny(name, **overrides):
    arch = MODELS[name][0]
    base = {**default_config(name).__dict__, **TINY[arch], **overrides}
    if name == "cirim":
        base["cascades"] = 2
    return Reconstructor(name, config_from_dict(arch, base))
