#!/usr/bin/env bash
# One short check of the imaging features on a lent GPU machine (run from the repository root).
# It installs nothing: it uses the carried .venv (or $PYTHON) and needs a CUDA build of torch.
# It runs the embedding throughput benchmark with device=cuda (64^3 and 128^3, all encoders),
# a short self-supervised pretraining on the GPU when AdrenalMNIST3D is reachable, and writes
# everything to $OUT (default: results/gpu). Expected run time: 2-4 minutes.
#
#   OUT=/some/folder bash experiments/gpu_embedding_check.sh
set -euo pipefail

OUT="${OUT:-results/gpu}"
mkdir -p "$OUT"
# The first interpreter whose torch sees CUDA: $PYTHON, the carried .venv, then python3.
CANDIDATES=()
[[ -n "${PYTHON:-}" ]] && CANDIDATES+=("$PYTHON")
[[ -x .venv/bin/python ]] && CANDIDATES+=(.venv/bin/python)
CANDIDATES+=(python3)
PYTHON=""
for candidate in "${CANDIDATES[@]}"; do
    if "$candidate" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
        2>/dev/null; then
        PYTHON="$candidate"
        break
    fi
done
# The shared data folder, when the checkout carries one (else ../shared/data or the env var).
if [[ -z "${GRAPHBOOST_DATA_DIR:-}" && -d shared/data ]]; then
    export GRAPHBOOST_DATA_DIR="$PWD/shared/data"
fi

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
} > "$OUT/machine.txt" 2>&1

if [[ -z "$PYTHON" ]]; then
    for candidate in "${CANDIDATES[@]}"; do
        "$candidate" -c "import torch; print('$candidate: torch', torch.__version__, \
'cuda build:', torch.version.cuda)" 2>&1 | tee -a "$OUT/machine.txt" || true
    done
    echo "CUDA is not available to any of: ${CANDIDATES[*]} (CPU-only torch?); nothing measured." \
        | tee "$OUT/error.txt"
    exit 2
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name(0))" | tee -a "$OUT/machine.txt"

# Embedding throughput, device=cuda, mixed precision (VolumeEmbedder amp=True by default).
timeout 300 "$PYTHON" -m experiments.benchmark_embeddings \
    --device cuda --encoders small,resnet10,resnet18 --sizes 64,128 \
    --n-volumes 64 --batch-size 16 --no-pretrain \
    --json "$OUT/throughput_cuda.json" 2>&1 | tee "$OUT/throughput_cuda.txt"

# Self-supervised pretraining on the GPU (skipped, with a message, without the data folder).
timeout 240 "$PYTHON" -m experiments.benchmark_embeddings \
    --device cuda --encoders small --sizes 64 --n-volumes 16 \
    --pretrain-volumes 1000 --pretrain-epochs 5 --pretrain-64-epochs 2 \
    --json "$OUT/pretrain_cuda.json" 2>&1 | tee "$OUT/pretrain_cuda.txt" || \
    echo "pretraining check failed or timed out (see pretrain_cuda.txt)" | tee -a "$OUT/error.txt"

echo "results written to $OUT"
