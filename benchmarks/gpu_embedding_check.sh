#!/usr/bin/env bash
# The device check of the imaging path on a lent GPU machine (run from the repository root).
#
#   OUT=/some/folder bash benchmarks/gpu_embedding_check.sh [SECONDS]
#
# In SECONDS (default 540) of wall time it runs, in this order:
#   1. the embedding throughput benchmark on CUDA (small CNN and ResNets, 64^3 and 128^3,
#      DataLoader workers, mixed precision) and the supervised training throughput;
#   2. the tests marked `gpu` (pytest -m gpu), beside
#   3. the AdrenalMNIST3D recipe on the GPU (python benchmarks/adrenal_mnist3d.py --device
#      cuda), one process per seed and variant, all in parallel: `profile` (the GPU defaults:
#      distance maps, SimCLR start, no early-stopping split), `minmax` (the masks themselves)
#      and `nopretrain` (no SimCLR start), seeds 0, 1 and 2; every process is stopped at the
#      deadline, so the summary always comes;
#   4. summary.json: the mean test AUROCs of every variant over its finished seeds.
# It installs nothing from a registry: with a folder .whl of wheels (packages the machine lacks),
# they go to /tmp/site first. The data folder is shared/data when the checkout has one (else
# GRAPHBOOST_DATA_DIR or ../shared/data); shape features cached in .dev/ are reused. At most
# eight files land in $OUT: machine.txt, throughput_64.json, throughput_128.json, training.json,
# summary.json and logs.tar.gz (every log and JSON).
set -uo pipefail

START=$(date +%s)
BUDGET="${1:-540}"
OUT="${OUT:-results/gpu}"
LOGS="$(mktemp -d)/logs"
mkdir -p "$OUT" "$LOGS"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if [[ -d .whl ]] && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
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
if [[ -z "${GRAPHBOOST_DATA_DIR:-}" && -d shared/data ]]; then
    export GRAPHBOOST_DATA_DIR="$PWD/shared/data"
fi

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    nproc
    for candidate in "${CANDIDATES[@]}"; do
        "$candidate" -c "import sys, torch, sklearn, pandas, numpy, monai, torch_geometric as g; \
print(sys.executable, sys.version.split()[0], 'torch', torch.__version__, 'cuda', \
torch.version.cuda, 'sklearn', sklearn.__version__, 'pandas', pandas.__version__, 'numpy', \
numpy.__version__, 'monai', monai.__version__, 'pyg', g.__version__)" 2>&1 || true
    done
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
if [[ -z "$PYTHON" ]]; then
    echo "CUDA is not available to any of: ${CANDIDATES[*]} (CPU-only torch?); nothing measured." \
        | tee -a "$OUT/machine.txt"
    exit 2
fi

bench() {  # name, seconds, benchmark options...
    local name="$1" limit="$2"
    shift 2
    timeout "$limit" "$PYTHON" benchmarks/benchmark_embeddings.py --device cuda --no-pretrain \
        --json "$OUT/$name.json" "$@" > "$LOGS/$name.txt" 2>&1 \
        || echo "benchmark $name failed or timed out (logs.tar.gz: $name.txt)"
    tail -n 8 "$LOGS/$name.txt"
}
bench throughput_64 70 --encoders small,resnet10,resnet18 --sizes 64 --n-volumes 4096 \
    --batch-size 64 --num-workers 12 --repeats 2 --training-sizes ''
bench throughput_128 70 --encoders small,resnet10,resnet18 --sizes 128 --n-volumes 1024 \
    --batch-size 32 --num-workers 12 --repeats 2 --training-sizes ''
bench training 45 --no-throughput --training-sizes 64 --n-volumes 512 --batch-size 32

REMAINING=$((START + BUDGET - 25 - $(date +%s)))
echo "AdrenalMNIST3D runs: ${REMAINING} s left"
timeout "$REMAINING" "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu \
    tests/features/test_embedding.py tests/features/test_supervised.py \
    tests/graphboost/test_device.py > "$LOGS/gpu_tests.txt" 2>&1 &
declare -A VARIANT_OPTIONS=(
    [profile]=""
    [minmax]="--intensity minmax"
    [nopretrain]="--pretrain-epochs 0"
)
VARIANTS=(profile minmax nopretrain)
for variant in "${VARIANTS[@]}"; do
    for seed in 0 1 2; do
        cache="$LOGS/cache_${variant}_${seed}"
        mkdir -p "$cache"
        cp .dev/shape_*.csv "$cache"/ 2>/dev/null || true
        # shellcheck disable=SC2086  # the options are words
        timeout "$REMAINING" "$PYTHON" benchmarks/adrenal_mnist3d.py --device cuda \
            --seeds "$seed" --threads 1 --cache-dir "$cache" \
            --json "$LOGS/${variant}_${seed}.json" ${VARIANT_OPTIONS[$variant]} \
            > "$LOGS/${variant}_${seed}.log" 2>&1 &
    done
done
wait
tail -n 3 "$LOGS/gpu_tests.txt"

"$PYTHON" - "$LOGS" "$OUT/summary.json" "${VARIANTS[@]}" <<'EOF'
import json, sys
from pathlib import Path

logs, out = Path(sys.argv[1]), Path(sys.argv[2])
summary = {}
for variant in sys.argv[3:]:
    runs = [json.loads(f.read_text()) for f in sorted(logs.glob(f"{variant}_*.json"))]
    if not runs:
        summary[variant] = {"finished_seeds": 0}
        continue
    keys = [k for k, v in runs[0].items() if isinstance(v, float) and k != "wall_s"]
    summary[variant] = {k: round(sum(r[k] for r in runs) / len(runs), 4) for k in keys}
    summary[variant]["per_seed"] = {k: [round(r[k], 4) for r in runs] for k in keys}
    summary[variant]["seeds"] = [r["seeds"][0] for r in runs]
    summary[variant]["wall_s"] = [r["wall_s"] for r in runs]
    summary[variant]["training"] = [r["training"][0] for r in runs]
    summary[variant]["settings"] = runs[0]["settings"]
out.write_text(json.dumps(summary, indent=1) + "\n")
for variant, res in summary.items():
    print(variant, {k: v for k, v in res.items() if not isinstance(v, dict | list)})
EOF
rm -f "$LOGS"/cache_*/*.pt "$LOGS"/cache_*/shape_*.csv
tar -czf "$OUT/logs.tar.gz" -C "$(dirname "$LOGS")" logs
echo "results written to $OUT in $(($(date +%s) - START)) s"
