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
