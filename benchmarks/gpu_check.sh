#!/usr/bin/env bash
# One prepared GPU check, for a machine with a CUDA device (CI never has one):
#   1. a VOCASET-sized synthetic corpus (12 subjects x 40 sentences = 480 sequences), prepared with mel;
#   2. HiSTalk trained on the GPU with --amp (epoch time and peak memory from RUN/timings.jsonl);
#   3. the same under torchrun (DDP over NCCL, one process per visible GPU);
#   4. FaceFormer (tiny encoder) trained one epoch with --amp on a subset;
#   5. inference speed on the GPU (benchmarks/inference.py --device cuda).
# Usage: bash benchmarks/gpu_check.sh [WORK_DIR]   (a fresh venv is made there when .venv is absent)
# Prints one summary block at the end; everything else goes to WORK_DIR/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-${OUT:-/tmp}/gpu_check}"
mkdir -p "$work"
if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv && .venv/bin/pip install -q -e '.[test]' > "$work/install.log" 2>&1
fi
py=.venv/bin/python
hb() { "$py" -m histalk_bench.cli.main "$@"; }
"$py" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible: this check needs a GPU"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
PY
start=$(date +%s)
hb synth --layout vocaset --subjects 12 --sentences 40 --out "$work/corpus" > "$work/synth.log" 2>&1
hb prepare vocaset --root "$work/corpus" --out "$work/cache.h5" --aligner oracle --features mel --jobs 8 --quiet \
  > "$work/prepare.log" 2>&1
echo "corpus + cache: $(( $(date +%s) - start )) s"
hb train histalk --data "$work/cache.h5" --out "$work/runs/histalk_amp" --features mel --device cuda --amp \
  --epochs 3 --quiet > "$work/train_amp.log" 2>&1
ngpu=$("$py" -c "import torch; print(torch.cuda.device_count())")
"$py" -m torch.distributed.run --standalone --nproc_per_node "$ngpu" -m histalk_bench.cli.main train histalk \
  --data "$work/cache.h5" --out "$work/runs/histalk_ddp" --features mel --device cuda --amp --epochs 2 --quiet \
  > "$work/train_ddp.log" 2>&1
hb train faceformer --data "$work/cache.h5" --out "$work/runs/faceformer_amp" --set audio_encoder=tiny \
  --device cuda --amp --epochs 1 --quiet > "$work/train_faceformer.log" 2>&1
"$py" benchmarks/inference.py --device cuda --repeats 3 > "$work/inference.log" 2>&1
echo "== summary"
for run in histalk_amp histalk_ddp faceformer_amp; do
  echo "-- $run (epoch, seconds, peak GPU GiB)"
  "$py" -c "import json,sys; [print(r['epoch'], r['epoch_s'], r.get('peak_gpu_memory_gib')) for r in map(json.loads, open(sys.argv[1]))]" \
    "$work/runs/$run/timings.jsonl"
  tail -n 1 "$work/runs/$run/history.jsonl"
done
echo "-- inference on the GPU"; cat "$work/inference.log"
echo "total: $(( $(date +%s) - start )) s"
