#!/usr/bin/env bash
# Train the learned methods one after another on this CPU, each from a trained neighbour
# (benchmarks/configs/<method>_cpu.json: time budget, warm start `init_from`, data seed).
# irim first (the others start from it), recurrentvarnet last (it starts from rim's GRU block).
# Run in the background:  nohup bash benchmarks/train_cpu.sh rim-mgu rim cirim recurrentvarnet > runs/train_cpu.out 2>&1 &
# A killed run continues with `mrirecon train NAME --resume --config benchmarks/configs/NAME_cpu.json`.
# SUFFIX=_dc runs the fine-tunes with the learned final data-consistency step instead
# (benchmarks/configs/<method>_dc_cpu.json, each from its own shipped weights, into runs/<method>_dc).
# SUFFIX=_fov: fine-tunes on whole 256^2 slices (crop 0: background, cropped maps and the real
# aliasing geometry, which 96^2 patches lack); irim_fov_cpu.json is irim's 70-minute version.
# SUFFIX=_zoom: whole slices with fields of view of 205-250 mm (the head fills more of the image, as
# in the real scan); irim_zoom_cpu.json (49 min) then irim_zoom2_cpu.json are irim's runs.
# cirim_from_irim_cpu.json (SUFFIX=_from_irim): a CIRIM from the shipped irim with its later cascades
# starting as identities (init_extra_blocks "identity"), whole slices, 205-250 mm FOVs.
# irim_mu_cpu.json trains only the noise-following data-consistency weight on top (not shipped,
# see README "Learned solvers").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
REAL=${REAL:-../shared/data/real_t2_brain_4coil.h5}
real_arg=()
[ -f "$REAL" ] && real_arg=(--real-scan "$REAL")
[ $# -gt 0 ] || set -- irim rim-mgu rim cirim recurrentvarnet
SUFFIX=${SUFFIX:-}
for m in "$@"; do
  echo "=== $m $(date -u +%FT%TZ)"
  "$PY" -m mrirecon.cli train "$m" --config "benchmarks/configs/${m}${SUFFIX}_cpu.json" --out "runs/$m$SUFFIX" \
      --device cpu "${real_arg[@]}"
done
