#!/usr/bin/env bash
# Makes every compressed variant of one shipped CsiNet model (the rows of seed 000's Tables I and
# II) with `linksim compress` and the recipes in scenarios/compress/:
#   scripts/compress_csinet.sh indoor 4      -> models/compressed/csinet_indoor_cr4_<variant>.lsnnc
# Variants: original, quantized, pruned, clustered, quantized_pruned, quantized_clustered
# (VARIANTS="..." picks some). THREADS=N sets the fine-tuning threads (default: all cores).
# Fine-tuning runs are resumable: run the script again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/compress_common.sh
for variant in ${VARIANTS:-original quantized pruned clustered quantized_pruned quantized_clustered}; do
  "${LINKSIM:-build/linksim}" compress "scenarios/compress/${variant}.ini" -q --threads "${THREADS:-0}" \
    --set "compress.model=${model}" --set "data.channel=${channel}" \
    --out "models/compressed/csinet_${env}_cr${cr}_${variant}.lsnnc"
done
