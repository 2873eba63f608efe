#!/usr/bin/env bash
# One GPU session's work for issues 4 and 6: the gpu-marked tests, a full CUDA calibration, then
# `dlrmsim validate` on that GPU against it (one GPU, tables in GPU memory, default grid).
# Run from the repository root on a GPU host with torch (CUDA build) and the project's other
# requirements (simpy, numpy, pyyaml, matplotlib, seaborn) installed:
#   bash profiles/run_gpu.sh [OUT_DIR]
# Writes OUT_DIR/gpu-tests.log, OUT_DIR/cuda-full.{json,log} and OUT_DIR/validate-cuda.{json,log,png}
# (OUT_DIR defaults to profiles/). The calibration is planned for under 5 minutes, the
# validation (27 configurations x 2 rounds of about 1 s) for about 2.
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
start=$(date +%s)
"$python" -m dlrmsim validate --device cuda --profile "$out/cuda-full.json" --json \
    --plot "$out/validate-cuda.png" >"$out/validate-cuda.json" 2>"$out/validate-cuda.log"
echo "CUDA validation: exit $? in $(( $(date +%s) - start )) s" | tee -a "$out/validate-cuda.log"
