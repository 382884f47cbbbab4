#!/usr/bin/env bash
# Makes the variants of seed 002's Tables 1 and 2 from one trained CsiNet+ model:
#   scripts/compress_csinetplus.sh indoor 4  -> models/compressed/csinetplus_indoor_cr4_<variant>.lsnnc
# Variants: original; t010 ... t100, the dense layers threshold-pruned at t = 0.010, 0.025,
# 0.050, 0.075, 0.100 and fine-tuned (Table 1); b7 ... b3, every layer k-means quantised to
# B = 7 ... 3 bits and fine-tuned with the centroids shared (Table 2). VARIANTS="..." picks some;
# THREADS=N sets the fine-tuning threads (default: all cores). Fine-tuning runs are resumable:
# run the script again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=csinetplus
source scripts/compress_common.sh
run() {  # run RECIPE VARIANT [--set key=value ...]
  local recipe="$1" variant="$2"
  shift 2
  "${LINKSIM:-build/linksim}" compress "scenarios/compress/${recipe}.ini" -q --threads "${THREADS:-0}" \
    --set "compress.model=${model}" --set "data.channel=${channel}" "$@" \
    --out "models/compressed/${arch}_${env}_cr${cr}_${variant}.lsnnc"
}
for variant in ${VARIANTS:-original t010 t025 t050 t075 t100 b7 b6 b5 b4 b3}; do
  case "$variant" in
    original) run original original ;;
    t[0-9][0-9][0-9]) run threshold_pruned "$variant" --set "prune.threshold=0.${variant#t}" ;;
    b[3-9]) run kmeans "$variant" --set "quantize.bits=${variant#b}" ;;
    *) echo "unknown variant '$variant' (original, tNNN, bN)" >&2; exit 2 ;;
  esac
done
