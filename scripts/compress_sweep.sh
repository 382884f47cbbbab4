#!/usr/bin/env bash
# Makes the fine-tuned pruned models of seed 000's Figure 2 for one shipped CsiNet model: the
# recipe scenarios/compress/pruned.ini (magnitude pruning of the dense layers, fine-tuning with
# the masks fixed, fp32) at each sparsity, plus the unpruned model as p00:
#   scripts/compress_sweep.sh indoor 4    -> models/compressed/sweep/csinet_indoor_cr4_p{00,30,50,70,80,90}.lsnnc
# SPARSITIES="0.3 0.5" picks others; THREADS=N the fine-tuning threads (default: all cores).
# Resumable: run it again after an interruption. Then run the sweep on them (precision applied
# as they load; their zeros stay pruned):
#   build/linksim run scenarios/compress_sweep_indoor.ini --set csi.prune=0 \
#     --set csi.variant=p00,p30,p50,p70,p80,p90 \
#     --set 'csi.model=models/compressed/sweep/csinet_indoor_cr{cr}_{variant}.lsnnc' \
#     --out results/compress_sweep_indoor_finetuned
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/compress_common.sh
linksim="${LINKSIM:-build/linksim}"
out="models/compressed/sweep"
mkdir -p "$out"
"$linksim" compress scenarios/compress/original.ini -q --set "compress.model=${model}" \
  --out "${out}/csinet_${env}_cr${cr}_p00.lsnnc"
for s in ${SPARSITIES:-0.3 0.5 0.7 0.8 0.9}; do
  pct=$(awk -v s="$s" 'BEGIN { printf "%02d", s * 100 + 0.5 }')
  "$linksim" compress scenarios/compress/pruned.ini -q --threads "${THREADS:-0}" \
    --set "compress.model=${model}" --set "data.channel=${channel}" --set "prune.sparsity=${s}" \
    --out "${out}/csinet_${env}_cr${cr}_p${pct}.lsnnc"
done
