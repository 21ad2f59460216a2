# Sourced by every recipe's train.sh once WORK, CONFIGS and PYTHON are set: the absolute run folder,
# its log (WORK/log.txt) and status (WORK/status, "failed" on an error), `step NAME`, the
# `invertfill` command of this checkout, RES, the resolution of CONFIGS/stage1.json, and BASELINES, the
# classic fills `invertfill eval` compares with (PatchMatch too when pypatchmatch is installed), RECIPES,
# this folder (figures.py), and the helpers below: split_folder, last_checkpoint and train (which
# trains until MINUTES, set before sourcing, have passed since the start).
RECIPES=$(realpath "$(dirname "${BASH_SOURCE[0]}")")
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
exec > >(tee -a "$WORK/log.txt") 2>&1
step() { echo "$1" > "$WORK/status"; echo "== $1 $(date -u +%H:%M:%S)"; }
set -E   # the ERR trap also fires inside functions (each stage runs in one)
trap 'echo failed > "$WORK/status"' ERR
invertfill() { "$PYTHON" -m app.cli "$@"; }
RES=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["generator"]["resolution"])' "$CONFIGS/stage1.json")
BASELINES=(--baseline telea --baseline ns)
if "$PYTHON" -c 'import patchmatch' 2>/dev/null; then BASELINES+=(--baseline patchmatch); fi
deadline=$(( $(date +%s) + ${MINUTES:-0} * 60 ))

last_checkpoint() { ls "$1"/checkpoints/network-*.safetensors 2>/dev/null | tail -n 1; }

# split_folder SOURCE TRAIN HELDOUT: link every 10th image of SOURCE (by name, LC_ALL=C order) into
# HELDOUT and the others into TRAIN.
split_folder() {
  mkdir -p "$2" "$3"
  find -L "$1" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | LC_ALL=C sort |
    awk -v train="$2" -v heldout="$3" '{print NR % 10 == 0 ? heldout : train, $0}' |
    while read -r part file; do ln -s "$(realpath "$file")" "$part/$(basename "$file")"; done
}

# train STAGE_DIR KIMG COMMAND...: run COMMAND (a training command without --out/--kimg) until KIMG
# thousand images or the deadline (MINUTES from the start), resuming STAGE_DIR's state; mark it done
# once KIMG is reached, else write "paused" and exit 0 (130 when the command was stopped by a signal).
train() {
  local dir=$1 kimg=$2
  shift 2
  [ -e "$dir/done" ] && { echo "$(basename "$dir"): done"; return 0; }
  local minutes=$(( (deadline - $(date +%s)) / 60 ))
  (( minutes >= 1 )) || { step paused; exit 0; }
  local resume=()
  [ -e "$dir/checkpoints/resume.pt" ] && resume=(--resume "$dir")
  "$@" --out "$dir" --kimg "$kimg" --minutes "$minutes" --device "$DEVICE" --progress json "${resume[@]}" | tee -a "$dir.jsonl" || {
    local code=$?
    (( code != 130 )) || { step paused; exit 130; }   # stopped (Ctrl-C, kill): its resume state is saved
    return "$code"
  }
  local images
  images=$(basename "$(last_checkpoint "$dir")" .safetensors)
  if awk -v images="${images#network-}" -v kimg="$kimg" 'BEGIN { exit !(images + 0 >= kimg * 1000) }'; then
    touch "$dir/done"
  else
    step paused
    exit 0
  fi
}
