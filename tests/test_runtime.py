import os
import subprocess
import sys

import numpy as np
import pytest

from mrirecon import runtime


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.environ.get("MRIRECON_MALLOC_TUNING") == "0",
                    reason="glibc malloc tuning applies on Linux unless switched off")
def test_malloc_tuning_applies_on_glibc_and_changes_no_result():
    assert runtime.tune_malloc() is True
    assert runtime.tune_malloc() is True  # once per process, idempotent
    big = np.ones((64, 256, 256), np.float32)  # allocations still work above the thresholds
    assert float((big * 2).sum()) == 2 * big.size


def test_malloc_tuning_can_be_switched_off():
    code = "from mrirecon import runtime; print(runtime.tune_malloc())"
    env = dict(os.environ, MRIRECON_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
