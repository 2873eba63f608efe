#!/usr/bin/env bash
# One GPU session's work for issues 4 and 6: a full CUDA calibration, `dlrmsim validate` on that
# GPU against it (one GPU, tables in GPU memory, default grid), diagnostics, the gpu-marked tests.
# Run from the repository root on a GPU host with torch (CUDA build) and the project's other
# requirements (simpy, numpy, scipy, pyyaml, matplotlib, seaborn, tqdm) installed:
#   bash profiles/run_gpu.sh [OUT_DIR]
# Writes OUT_DIR/host.txt, OUT_DIR/cuda-full.{json,log}, OUT_DIR/validate-cuda.{json,log,png},
# OUT_DIR/diagnostics.txt and OUT_DIR/gpu-tests.log: 8 files, the most the device tool brings back
# (OUT_DIR defaults to profiles/).
#
# Order and limits serve a lease of a few minutes: the calibration first (its own deadline keeps
# it near 4 minutes; --keep-going keeps the other ops when one kernel fails on this host), then
# the validation (27 configurations x 2 rounds of about 1 s), then three diagnostic benchmarks,
# then the tests. Each stage has a hard limit (seconds, env CAL_LIMIT_S, VAL_LIMIT_S,
# TEST_LIMIT_S) so that the script always ends. On an H100 it took 3 minutes (before the
# diagnostics, which add about one).
set -u
out="${1:-profiles}"
mkdir -p "$out"
python=${PYTHON:-$(command -v python3 || command -v python)}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # benchmarks/ import the packages from here

stage() {  # stage NAME LIMIT_S STDOUT STDERR CMD...: run CMD under a hard limit; append its
    local name=$1 limit=$2 stdout=$3 stderr=$4 start rc  # exit status and time to STDERR
    shift 4
    start=$(date +%s)
    if [ "$stdout" = "$stderr" ]; then
        timeout --signal=INT --kill-after=15 "$limit" "$@" >"$stdout" 2>&1
    else
        timeout --signal=INT --kill-after=15 "$limit" "$@" >"$stdout" 2>"$stderr"
    fi
    rc=$?
    echo "$name: exit $rc in $(( $(date +%s) - start )) s (limit $limit s)" | tee -a "$stderr"
}

{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
    "$python" -c 'import torch, sys; print(sys.version.split()[0], "torch", torch.__version__,
"cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
    nproc
} >"$out/host.txt" 2>&1
cat "$out/host.txt"

device=${DEVICE:-cuda}  # DEVICE=cpu with CAL_ARGS="--quick --budget-scale 0.05" dry-runs the script
stage "full $device calibration" "${CAL_LIMIT_S:-330}" "$out/$device-full.log" \
    "$out/$device-full.log" "$python" -m calibrate --device "$device" --keep-going --json \
    --force --out "$out/$device-full.json" ${CAL_ARGS:-}  # a rerun replaces its own profile
if [ -s "$out/$device-full.json" ]; then
    stage "$device validation" "${VAL_LIMIT_S:-200}" "$out/validate-$device.json" \
        "$out/validate-$device.log" "$python" -m dlrmsim validate --device "$device" \
        --profile "$out/$device-full.json" --json --plot "$out/validate-$device.png" ${VAL_ARGS:-}
fi
# Diagnostics of where a step's time goes (profiles/README.md, "Session 3"), about a minute.
diag="$out/diagnostics.txt"
: >"$diag"
for script in "timing_method_check.py --rounds 12" \
              "step_breakdown.py --config tables_4 --config centre --config tables_128" \
              "autograd_overhead_check.py"; do
    echo "== benchmarks/$script" >>"$diag"
    # shellcheck disable=SC2086  # the script's arguments are meant to split
    timeout 120 "$python" benchmarks/$script --device "$device" >>"$diag" 2>&1
    echo "exit $?" >>"$diag"
done
echo "diagnostics: $(grep -c '^exit 0' "$diag") of 3 ran"
stage "gpu tests" "${TEST_LIMIT_S:-90}" "$out/gpu-tests.log" "$out/gpu-tests.log" \
    "$python" -m pytest tests -m gpu -q -p no:cacheprovider
