#!/usr/bin/env bash
# The GPU checks in one short script (about 6 minutes on one H200), their tables in one file:
#
#   bash benchmarks/gpu_check.sh [REPORT]          # default gpu_check.md
#   GPU_CHECK_DEVICE=cpu bash benchmarks/gpu_check.sh /tmp/check.md    # the same at toy sizes, on a CPU
#
# On a bare GPU machine with no network and its own torch and Python, first make the wheels it lacks
# where pip reaches PyPI (bash benchmarks/gpu_wheels.sh -> .whl/) and carry .whl/ along: when
# ccvs_core does not import, this script installs .whl/*.whl (no dependencies) into /tmp/ccvs-site
# and runs this checkout's code with their metadata (the plugins' entry points). Then, each part
# under its own time limit:
#   1. the CUDA tests (tests/test_cuda.py and every other test that skips without CUDA);
#   2. both stages' training steps at the paper preset in bfloat16: samples/s and peak memory;
#   3. compiled against plain training steps of both stages (toyworld preset, bfloat16);
#   4. the sampling speed of the transformer (cached step against recomputing the prefix);
#   5. attention's memory and time: sdpa against naive (and xformers where installed).
set -uo pipefail
cd "$(dirname "$0")/.."
report=$(realpath -m "${1:-gpu_check.md}")
device=${GPU_CHECK_DEVICE:-cuda}
work=$(mktemp -d)
export PYTHONUNBUFFERED=1

if ! python3 -c "import ccvs_core" 2>/dev/null; then
    site=/tmp/ccvs-site
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        .whl/*.whl || exit 1
    checkout=$PWD
    for plugin in plugins/ccvs-plugin-*; do checkout=$checkout:$PWD/$plugin; done
    export PYTHONPATH=$checkout:$site
fi

if [ "$device" = cuda ]; then
    preset=paper; size=256; steps=10; lengths="2048 8192 32768"; quick=""; compiles="no yes"
else  # inductor takes minutes to compile on a CPU: the unit tests trace --compile there instead
    preset=tiny; size=32; steps=2; lengths="256 512"; quick="--quick"; compiles="no"
fi

section() { printf '\n## %s\n\n```\n' "$1" >>"$report"; }
run() {  # run LIMIT_SECONDS COMMAND...: its output into the report, and the time it took
    local limit=$1; shift
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v -e "Gloo" -e "^\s*$" >>"$report"
    local code=${PIPESTATUS[0]}
    printf '```\n(exit %s, %s s)\n' "$code" $((SECONDS - start)) >>"$report"
}

python3 - >"$report" <<'PY'
import platform, torch
import ccvs_core
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
print(f"# gpu_check: {gpu}\n\nccvs-core {getattr(ccvs_core, '__version__', '?')}, torch {torch.__version__}, "
      f"CUDA {torch.version.cuda}, Python {platform.python_version()}")
PY
echo "device $device, preset $preset" >>"$report"

toyworld() {  # toyworld FOLDER SIZE: 20 videos of 16 frames
    python3 -m ccvs_core.cli data toyworld --out "$1" --videos 20 --frames 16 --size "$2" \
        --workers "$(nproc)" >/dev/null 2>&1
}
toyworld "$work/small" 32
if [ "$size" = 32 ]; then ln -s "$work/small" "$work/big"; else toyworld "$work/big" "$size"; fi

section "1. CUDA tests"
run 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_metrics_psnr_ssim.py -k "cuda"

section "2. training steps, $preset preset, bfloat16"
python3 -m ccvs_core.cli train autoencoder --data "$work/big" --out "$work/ae" --preset "$preset" \
    --steps 1 --device "$device" >/dev/null 2>&1
run 150 python3 benchmarks/train_throughput.py --data "$work/big" --autoencoder "$work/ae/autoencoder" \
    --preset "$preset" --processes 1 --steps "$steps" --warmup 3 --device "$device" --precision bfloat16 \
    --out "$work/paper.json"

section "3. compiled against plain training steps, toyworld preset, bfloat16"
python3 -m ccvs_core.cli train autoencoder --data "$work/small" --out "$work/ae-toy" --preset toyworld \
    --steps 1 --device "$device" >/dev/null 2>&1
for compile in $compiles; do
    run 150 python3 benchmarks/train_throughput.py --data "$work/small" \
        --autoencoder "$work/ae-toy/autoencoder" --preset toyworld --processes 1 --steps "$steps" --warmup 3 \
        --device "$device" --precision bfloat16 --compile "$compile" --out "$work/compile-$compile.json"
    [ "$compile" != "${compiles##* }" ] && printf '\n```\n' >>"$report"
done

section "4. sampling speed"
run 90 python3 benchmarks/sampling_speed.py --device "$device" $quick

section "5. attention memory and time"
# shellcheck disable=SC2086
run 60 python3 benchmarks/attention_memory.py --device "$device" --lengths $lengths

rm -rf "$work"
echo "wrote $report"
