#!/usr/bin/env bash
# The wheels a bare GPU machine (no network, its own torch and Python) lacks to run gpu_check.sh:
#
#   bash benchmarks/gpu_wheels.sh [PYTHON_VERSION]      # default 3.12; writes .whl/ (about 35 MiB)
#
# Such machines usually hold torch, numpy, Pillow, einops, attrs, safetensors, rich, hypothesis and
# pytest already; PyAV and pycocotools are the ones missing (both abi3 wheels, any CPython from 3.11),
# at the pinned versions of constraints.txt. ccvs-core and the plugins are built here as wheels too
# (pure Python; their metadata names the plugins' entry points), so that nothing is built there.
# Run it where pip reaches PyPI; gpu_check.sh installs .whl/*.whl with pip --no-index and runs the
# checkout's own code. .whl/ is git-ignored: carry it to the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-3.12}
pin() { grep -i "^$1==" constraints.txt; }
rm -rf .whl && mkdir .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$(pin av)" "$(pin pycocotools)"
python3 -m pip wheel --quiet --no-deps -w .whl . plugins/ccvs-plugin-*
rm -rf build plugins/ccvs-plugin-*/build  # setuptools builds in the tree
du -sh .whl
ls .whl
