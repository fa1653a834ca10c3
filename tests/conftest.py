import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SCAN = ROOT.parent / "shared" / "data" / "real_t2_brain_4coil.h5"
SAMPLE_DATA = ROOT / "sample_data"


def pytest_collection_modifyitems(config, items):
    """GUI tests need an X server: a DISPLAY, or Xvfb for pytest-xvfb to start."""
    import shutil

    if os.environ.get("DISPLAY") or shutil.which("Xvfb"):
        return
    skip = pytest.mark.skip(reason="no X server (install xvfb: apt-get install xvfb)")
    for item in items:
        if "gui" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_scan():
    if not SHARED_SCAN.exists():
        pytest.skip(f"shared real scan not found at {SHARED_SCAN}")
    import mrirecon

    return mrirecon.load(SHARED_SCAN)


@pytest.fixture(scope="session")
def small_acq():
    """A small simulated FLAIR acquisition with lesions and its true sensitivities."""
    from mrirecon.simulate import SimConfig, simulate

    return simulate(SimConfig(contrast="flair", size=96, coils=6, slices=2, lesions=3, seed=7))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- Qt teardown -------------------------------------------------------------------------------
# After every GUI test has passed, CPython's interpreter teardown sometimes aborts inside Qt
# ("QObject: shared QObject was deleted directly", exit 134) once a napari thread worker has been
# cancelled. Until that is fixed at its root, a session that ran GUI tests ends the process right
# after pytest has finished and printed its summary, with pytest's own exit status.

def pytest_runtest_setup(item):
    if "gui" in item.keywords:
        item.config._mrirecon_gui_ran = True


def pytest_sessionfinish(session, exitstatus):
    session.config._mrirecon_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if getattr(config, "_mrirecon_gui_ran", False):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(getattr(config, "_mrirecon_exitstatus", 0))


@pytest.fixture
def tiny_irim(tmp_path, small_acq):
    """(a models folder with a tiny untrained ``irim``, an equispaced 4x problem of ``small_acq``)."""
    import torch

    from mrirecon import masks, weights
    from mrirecon.api import make_problem
    from tiny_nets import tiny

    torch.manual_seed(0)
    weights.save(tiny("irim"), {}, tmp_path)
    m = masks.create("equispaced", (96, 96), 4, seed=0)
    return tmp_path, make_problem(small_acq.kspace * m, m, device="cpu")


@pytest.fixture(scope="module")
def batch(small_acq):
    """A masked 2D 4x problem of ``small_acq`` as the learned networks take it (torch tensors)."""
    import torch

    from mrirecon import coils, masks

    m = masks.create("gaussian2d", small_acq.kspace.shape[-2:], 4, seed=0)
    k = small_acq.kspace * m
    sens = coils.espirit(k, m)
    return (torch.from_numpy(k), torch.from_numpy(m), torch.from_numpy(sens),
            torch.full((k.shape[0],), coils.noise_variance(k, m)))
