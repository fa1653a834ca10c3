#!/usr/bin/env bash
# One prepared device run (a lent GPU machine, no network): CUDA tests and checks, GPU speed, then
# one time-budgeted training run. Needs wheels of sigpy, PyWavelets, nilearn and nibabel in .whl/
# and the shared real scan in .data/ (both git-ignored, carried). Results land in $OUT.
# Prepare here (once): echo /.whl/ >> .git/info/exclude; echo /.data/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     sigpy==0.1.27 PyWavelets nilearn==0.14.1 nibabel
#   mkdir -p .data && cp ../shared/data/real_t2_brain_4coil.h5 .data/
# Run with the device tool: command `OUT=$OUT METHODS="irim cirim" bash benchmarks/gpu_session.sh`,
# carry [".whl", ".data"]; each method trains for the time_budget_s of its config.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
METHODS=${METHODS:-irim}  # each trains for the time_budget_s of benchmarks/configs/<method>_gpu.json
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/checks.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_physics.py tests/test_fft.py 2>&1 | tail -3 | tee -a "$OUT/checks.txt"
python3 benchmarks/gpu_checks.py --real .data/real_t2_brain_4coil.h5 2>&1 | tee -a "$OUT/checks.txt"
mkdir -p "$OUT/models"
for METHOD in $METHODS; do
    cp "models/$METHOD.safetensors" "models/$METHOD.json" "$OUT/models/"  # the configs warm-start from it
    python3 -m mrirecon.cli train "$METHOD" --device cuda --config "benchmarks/configs/${METHOD}_gpu.json" \
        --out "$OUT/run_$METHOD" --models-dir "$OUT/models" --real-scan .data/real_t2_brain_4coil.h5 2>&1 | tee "$OUT/train_$METHOD.log"
done
