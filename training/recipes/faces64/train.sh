#!/usr/bin/env bash
# The small-scale reproduction (docs/reproduction.md): InvertFill at 64 px on CelebA-HQ faces, on a CPU.
#
#   bash training/recipes/faces64/train.sh        (from the project root; settings below, by environment)
#
# 1. split: every 10th face (by name, LC_ALL=C order) is held out for evaluation;
# 2. stage 1: StyleGAN2 with adaptive augmentation on the rest (stage1.json) until STAGE1_KIMG;
# 3. stage 2 once per variant of VARIANTS (stage2.json) until STAGE2_KIMG each:
#    full = F&W+, pre-modulation and SML; wplus = the w+ latent space (no RGB branch);
#    nopremod = no pre-modulation; nosml = a static mean latent (the paper's Table 5 rows);
# 4. export: the full model in float16 with its discriminator, the fine-tune's loss backbone
#    (WORK/faces64.safetensors; the defaults' run is the bundled demo model
#    resources/models/faces64-demo.safetensors);
# 5. eval: hard, extreme and all masks on the held-out faces, every variant against OpenCV Telea
#    and Navier-Stokes (and PatchMatch when pypatchmatch is installed), with PSNR, SSIM and seam
#    (WORK/eval/report.md, examples-*.png).
# Resumable: this invocation trains for at most MINUTES in all, then saves, writes "paused" to
# WORK/status and exits 0 (130 when the training command is stopped by Ctrl-C or kill); running the
# script again continues every stage exactly where it stopped, and skips the finished ones
# (WORK/<stage>/done). WORK/status names the step under way, then "done" or "failed"; WORK/log.txt
# holds the output, WORK/<stage>.jsonl the progress.
set -euo pipefail

FACES=${FACES:-../shared/data/faces/celebahq256}
WORK=${WORK:-runs/faces64}
CONFIGS=${CONFIGS:-$(dirname "$0")}
STAGE1_KIMG=${STAGE1_KIMG:-140}
STAGE2_KIMG=${STAGE2_KIMG:-200}
VARIANTS=${VARIANTS:-full wplus}
MINUTES=${MINUTES:-240}
DEVICE=${DEVICE:-auto}
PYTHON=${PYTHON:-python3}

# shellcheck source=../recipe.sh
source "$(dirname "$0")/../recipe.sh"
variant_flags() {
  case $1 in
    full) ;;
    wplus) echo --latent-space w+ ;;
    nopremod) echo --no-premod ;;
    nosml) echo --no-sml ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}

if [ ! -e "$WORK/split.done" ]; then
  step split
  rm -rf "$WORK/train" "$WORK/heldout"
  split_folder "$FACES" "$WORK/train" "$WORK/heldout"
  touch "$WORK/split.done"
fi
echo "train: $(find "$WORK/train" -type l | wc -l) faces, held out: $(find "$WORK/heldout" -type l | wc -l)"

step stage1
train "$WORK/stage1" "$STAGE1_KIMG" invertfill train-gan --data "$WORK/train" --config "$CONFIGS/stage1.json"
gan=$(last_checkpoint "$WORK/stage1")

for variant in $VARIANTS; do
  step "stage2-$variant"
  # shellcheck disable=SC2046
  train "$WORK/stage2-$variant" "$STAGE2_KIMG" invertfill train-encoder --gan "$gan" --data "$WORK/train" \
    --config "$CONFIGS/stage2.json" --domain faces $(variant_flags "$variant")
done

step export
invertfill export "$(last_checkpoint "$WORK/stage2-full")" -o "$WORK/faces64.safetensors" --half --domain faces

step eval
count=$(find "$WORK/heldout" -type l | wc -l)
for bucket in hard extreme all; do
  invertfill make-masks --bucket "$bucket" --n "$count" --res "$RES" --seed 0 -o "$WORK/masks/$bucket"
done
models=()
for variant in $VARIANTS; do models+=(--model "$variant=$(last_checkpoint "$WORK/stage2-$variant")"); done
invertfill eval --images "$WORK/heldout" --res "$RES" --device "$DEVICE" \
  --masks "hard=$WORK/masks/hard" --masks "extreme=$WORK/masks/extreme" --masks "all=$WORK/masks/all" \
  "${models[@]}" "${BASELINES[@]}" -o "$WORK/eval"
"$PYTHON" "$RECIPES/figures.py" "$WORK"
step done
