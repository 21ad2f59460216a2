#!/usr/bin/env bash
# The general model: InvertFill at 64 px on everyday photos (landscapes, streets, objects), on a CPU.
#
#   bash training/recipes/general64/train.sh        (from the project root; settings below, by environment)
#
# 1. split: every 10th image of each folder of FOLDERS (by name, LC_ALL=C order) is held out. LARGE
#    holds 512-px versions of some of those photos: its own held-out tenth joins the held-out set
#    (their smaller versions leave the training set), and it is used for nothing else;
# 2. stage 1: StyleGAN2 with adaptive augmentation (stage1.json) until STAGE1_KIMG, on square windows
#    of the photos at random zooms (from a quarter of the shorter side to all of it) and flips, since a
#    scene model is shown windows around holes. GAN=FILE skips it and starts stage 2 from FILE: a
#    stage-1 checkpoint, or a finished model to train further (resources/models/default.safetensors
#    holds this recipe's stage-1 generator and discriminator of 3 December 2026, 160 k images, bit
#    for bit as stage 1 exported them);
# 3. stage 2: the full model (F&W+, pre-modulation, SML; stage2.json) around the frozen generator until
#    STAGE2_KIMG, with the discriminator as the loss backbone;
# 4. export: WORK/exports/stage1.safetensors and WORK/exports/general64.safetensors, float16 with the
#    discriminator (the fine-tune's loss backbone), written as each stage finishes;
# 5. eval: hard, extreme and all masks on the held-out photos at RES (64 px, whole photos) and at
#    EVAL_RES (512 px, the held-out photos of EVAL_FOLDERS, filled with STRATEGY), against OpenCV Telea
#    and Navier-Stokes (and PatchMatch when pypatchmatch is installed): WORK/eval-RES/report.md and
#    WORK/eval-EVAL_RES/report.md, with figures in WORK/figures.
# Resumable as the faces64 recipe: at most MINUTES of training per invocation, then "paused" in
# WORK/status; running it again continues where it stopped and skips finished stages.
set -euo pipefail

SCENES=${SCENES:-../shared/data/scenes}
FOLDERS=${FOLDERS:-general256 scenery512 paris_streetview256}
LARGE=${LARGE:-general512}
EVAL_FOLDERS=${EVAL_FOLDERS:-scenery512 general512}
WORK=${WORK:-runs/general64}
CONFIGS=${CONFIGS:-$(dirname "$0")}
STAGE1_KIMG=${STAGE1_KIMG:-160}
STAGE2_KIMG=${STAGE2_KIMG:-200}
GAN=${GAN:-}
EVAL_RES=${EVAL_RES:-512}
STRATEGY=${STRATEGY:-detail}
MINUTES=${MINUTES:-240}
DEVICE=${DEVICE:-auto}
PYTHON=${PYTHON:-python3}

# shellcheck source=../recipe.sh
source "$(dirname "$0")/../recipe.sh"

if [ ! -e "$WORK/split.done" ]; then
  step split
  rm -rf "$WORK/train" "$WORK/heldout" "$WORK/heldout-large" "$WORK/large-train"
  for folder in $FOLDERS; do split_folder "$SCENES/$folder" "$WORK/train/$folder" "$WORK/heldout/$folder"; done
  split_folder "$SCENES/$LARGE" "$WORK/large-train" "$WORK/heldout-large/$LARGE"
  rm -rf "$WORK/large-train"
  find "$WORK/heldout-large/$LARGE" -type l | while read -r file; do
    find "$WORK/train" -type l -name "$(basename "$file")" | while read -r twin; do
      folder=$(basename "$(dirname "$twin")")
      mv "$twin" "$WORK/heldout/$folder/"
    done
  done
  for folder in $EVAL_FOLDERS; do
    [ -d "$WORK/heldout/$folder" ] && cp -P -r "$WORK/heldout/$folder" "$WORK/heldout-large/"
  done
  touch "$WORK/split.done"
fi
echo "train: $(find "$WORK/train" -type l | wc -l) photos, held out: $(find "$WORK/heldout" -type l | wc -l)" \
  "($(find "$WORK/heldout-large" -type l | wc -l) at ${EVAL_RES} px)"

mkdir -p "$WORK/exports"
if [ -z "$GAN" ]; then
  step stage1
  train "$WORK/stage1" "$STAGE1_KIMG" invertfill train-gan --data "$WORK/train" --config "$CONFIGS/stage1.json"
  GAN=$(last_checkpoint "$WORK/stage1")
  [ -e "$WORK/exports/stage1.safetensors" ] || invertfill export "$GAN" -o "$WORK/exports/stage1.safetensors" --half
fi

step stage2
train "$WORK/stage2" "$STAGE2_KIMG" invertfill train-encoder --gan "$GAN" --data "$WORK/train" \
  --config "$CONFIGS/stage2.json" --domain general
model=$WORK/exports/general64.safetensors
[ -e "$model" ] || invertfill export "$(last_checkpoint "$WORK/stage2")" -o "$model" --half

step eval
evaluate() {  # evaluate IMAGES RES OUT [eval options]: the three buckets, the model against the classic fills
  local images=$1 res=$2 out=$3
  shift 3
  local count
  count=$(find "$images" -type l | wc -l)
  for bucket in hard extreme all; do
    invertfill make-masks --bucket "$bucket" --n "$count" --res "$res" --seed 0 -o "$WORK/masks-$res/$bucket"
  done
  invertfill eval --images "$images" --res "$res" --device "$DEVICE" --model "general=$model" "${BASELINES[@]}" \
    --masks "hard=$WORK/masks-$res/hard" --masks "extreme=$WORK/masks-$res/extreme" --masks "all=$WORK/masks-$res/all" \
    -o "$out" "$@"
}
evaluate "$WORK/heldout" "$RES" "$WORK/eval-$RES"
evaluate "$WORK/heldout-large" "$EVAL_RES" "$WORK/eval-$EVAL_RES" --strategy "$STRATEGY"
"$PYTHON" "$RECIPES/figures.py" "$WORK"
step done
