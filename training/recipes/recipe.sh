# Sourced by every recipe's train.sh once WORK, CONFIGS and PYTHON are set: the absolute run folder,
# its log (WORK/log.txt) and status (WORK/status, "failed" on an error), `step NAME`, the
# `invertfill` command of this checkout, RES, the resolution of CONFIGS/stage1.json, and BASELINES, the
# classic fills `invertfill eval` compares with (PatchMatch too when pypatchmatch is installed).
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
