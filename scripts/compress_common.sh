# Sourced by the compression scripts: checks "indoor|outdoor CR" (the script's arguments) and
# sets env, cr, channel (the fine-tuning data's COST 2100 channel) and model (the shipped model
# file of architecture $arch, default csinet), or exits 2 with a usage line naming the calling
# script.
if [ $# -ne 2 ] || [[ ! "$1" =~ ^(indoor|outdoor)$ ]] || [[ ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/$(basename "$0") indoor|outdoor CR" >&2
  exit 2
fi
env="$1" cr="$2"
channel=cost2100_indoor
[ "$env" = outdoor ] && channel=cost2100_outdoor_los
arch="${arch:-csinet}"
model="models/${arch}_${env}_cr${cr}.lsnn"
[ -f "$model" ] || { echo "no model $model (linksim train scenarios/train_${arch}_${env}_cr${cr}.ini)" >&2; exit 2; }
