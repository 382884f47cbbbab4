#!/usr/bin/env bash
# Makes every compressed variant of one shipped CsiNet model (the rows of seed 000's Tables I and
# II) with `linksim compress` and the recipes in scenarios/compress/:
#   scripts/compress_csinet.sh indoor 4      -> models/compressed/csinet_indoor_cr4_<variant>.lsnnc
# Variants: original, quantized, pruned, clustered, quantized_pruned, quantized_clustered
# (VARIANTS="..." picks some). THREADS=N sets the fine-tuning threads (default: all cores).
# Fine-tuning runs are resumable: run the script again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ] || [[ ! "$1" =~ ^(indoor|outdoor)$ ]] || [[ ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/compress_csinet.sh indoor|outdoor CR" >&2
  exit 2
fi
env="$1" cr="$2"
channel=cost2100_indoor
[ "$env" = outdoor ] && channel=cost2100_outdoor_los
model="models/csinet_${env}_cr${cr}.lsnn"
[ -f "$model" ] || { echo "no model $model (linksim train scenarios/train_csinet_${env}_cr${cr}.ini)" >&2; exit 2; }
for variant in ${VARIANTS:-original quantized pruned clustered quantized_pruned quantized_clustered}; do
  "${LINKSIM:-build/linksim}" compress "scenarios/compress/${variant}.ini" -q --threads "${THREADS:-0}" \
    --set "compress.model=${model}" --set "data.channel=${channel}" \
    --out "models/compressed/csinet_${env}_cr${cr}_${variant}.lsnnc"
done
