#!/usr/bin/env bash
# One GPU session's work for issue 4: the gpu-marked tests, then a full CUDA calibration.
# Run from the repository root on a GPU host with torch (CUDA build) installed:
#   bash profiles/run_gpu.sh [OUT_DIR]
# Writes OUT_DIR/gpu-tests.log, OUT_DIR/cuda-full.json and OUT_DIR/cuda-full.log
# (OUT_DIR defaults to profiles/). The full CUDA run is planned for under 5 minutes.
set -u
out="${1:-profiles}"
mkdir -p "$out"
python=${PYTHON:-python}
start=$(date +%s)
"$python" -m pytest tests/calibrate -m gpu -q -p no:cacheprovider >"$out/gpu-tests.log" 2>&1
echo "gpu tests: exit $? in $(( $(date +%s) - start )) s" | tee -a "$out/gpu-tests.log"
start=$(date +%s)
"$python" -m calibrate --device cuda --out "$out/cuda-full.json" --json >"$out/cuda-full.log" 2>&1
echo "full CUDA calibration: exit $? in $(( $(date +%s) - start )) s" | tee -a "$out/cuda-full.log"
