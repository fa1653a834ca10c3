#!/usr/bin/env bash
# Regenerates the sample files bit for bit (same mrirecon version, numpy, scipy, sigpy, nilearn).
set -euo pipefail
cd "$(dirname "$0")"
mrirecon simulate . --contrast t1w   --lesions 0 --coils 8 --size 256 --slices 3 --seed 101 --name t1w_256_8coil
mrirecon simulate . --contrast t2w   --lesions 4 --coils 8 --size 256 --slices 3 --seed 202 --name t2w_lesions_256_8coil
mrirecon simulate . --contrast flair --lesions 6 --coils 8 --size 256 --slices 3 --seed 303 --name flair_lesions_256_8coil
