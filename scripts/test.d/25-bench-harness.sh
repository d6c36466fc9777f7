#!/usr/bin/env bash
# Self-test of the benchmark harness (bench/): the Lambda Runtime API emulator, the fake
# SageMaker, the CPU probe and the Python reference handler. The benchmarks themselves run with
# scripts/bench and never gate CI; this only proves the harness they rely on is sound.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
python3 -m pytest -q -p no:cacheprovider bench/tests
