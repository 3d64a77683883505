#!/usr/bin/env bash
# Every CUDA path of nanoGPT Lab in one run, for the first GPU the project gets (under 8 minutes on one H100):
# GPT-2 124M bf16 + torch.compile (tokens/s, MFU against 989 TFLOP/s), float16 + GradScaler, nccl DDP on every
# visible GPU, `bench sample` on CUDA, and `bench sft` on CUDA where it exists. Writes gpu_check.json and
# gpu_check.md into --out. `--dry-run` checks imports and arguments on any machine, GPU or not.
#
#   tools/gpu_check.sh [--dry-run] [--out=DIR] [--steps=30] [--timeout=300]
#
# The checkout's own code runs (src/ first on PYTHONPATH); PYTHON picks the interpreter (default: .venv's).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m nanogpt_lab.tools.gpu_check "$@"
