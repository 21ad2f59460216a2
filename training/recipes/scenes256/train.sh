#!/usr/bin/env bash
# The embedded default model: InvertFill at 256 px on the scenes of ../shared/data, start to finish.
#
#   bash training/recipes/scenes256/train.sh        (from the project root; settings below, by environment)
#
# 1. split: every 10th image of each folder under SCENES (by name) is held out for evaluation;
# 2. stage 1: StyleGAN2 with adaptive augmentation on the rest, random zoomed crops and flips (stage1.json);
# 3. stage 2: encoder, pre-modulation and RGB branch around the frozen generator, free-form and
#    outpainting masks across all coverage buckets (stage2.json);
# 4. export: the model with its discriminator (the fine-tune wizard's loss backbone) in half
#    precision, WORK/default.safetensors, and its SHA-256; also split into 15 MiB parts
#    (join them with `cat WORK/parts/default.safetensors.part-* > default.safetensors`);
# 5. eval: hard, extreme and all masks plus a sample of NVIDIA_MASKS on the held-out images,
#    against OpenCV Telea and Navier-Stokes: WORK/eval/report.md, examples-*.png.
# Each stage trains for a fixed time, so that the run fits a lent GPU. WORK/status holds the step
# under way (split, stage1, stage2, export, eval), then "done" or "failed"; WORK/log.txt the output.
set -euo pipefail

SCENES=${SCENES:-../shared/data/scenes}
NVIDIA_MASKS=${NVIDIA_MASKS:-../shared/data/masks/nvidia_irregular_test}
WORK=${WORK:-runs/default-scenes256}
CONFIGS=${CONFIGS:-$(dirname "$0")}
STAGE1_MINUTES=${STAGE1_MINUTES:-7}
STAGE2_MINUTES=${STAGE2_MINUTES:-3}
EVAL_MASKS=${EVAL_MASKS:-100}
DEVICE=${DEVICE:-auto}
PYTHON=${PYTHON:-python3}

# shellcheck source=../recipe.sh
source "$(dirname "$0")/../recipe.sh"

step split
rm -rf "$WORK/train" "$WORK/heldout"
for source in "$SCENES"/*/; do
  name=$(basename "$source")
  split_folder "$source" "$WORK/train/$name" "$WORK/heldout/$name"
done
echo "train: $(find "$WORK/train" -type l | wc -l) images, held out: $(find "$WORK/heldout" -type l | wc -l)"

step stage1
invertfill train-gan --data "$WORK/train" --out "$WORK/stage1" --config "$CONFIGS/stage1.json" \
  --minutes "$STAGE1_MINUTES" --device "$DEVICE" --progress json
gan=$(ls "$WORK"/stage1/checkpoints/network-*.safetensors | tail -n 1)

step stage2
invertfill train-encoder --gan "$gan" --data "$WORK/train" --out "$WORK/stage2" --config "$CONFIGS/stage2.json" \
  --domain scenes --minutes "$STAGE2_MINUTES" --device "$DEVICE" --progress json
model=$(ls "$WORK"/stage2/checkpoints/network-*.safetensors | tail -n 1)

step export
invertfill export "$model" -o "$WORK/default.safetensors" --half --domain scenes
(cd "$WORK" && sha256sum default.safetensors > default.safetensors.sha256)
rm -rf "$WORK/parts" && mkdir -p "$WORK/parts"
split -b 15M -d "$WORK/default.safetensors" "$WORK/parts/default.safetensors.part-"

step eval
for bucket in hard extreme all; do
  invertfill make-masks --bucket "$bucket" --n "$EVAL_MASKS" --res "$RES" --seed 0 -o "$WORK/masks/$bucket"
done
rm -rf "$WORK/masks/nvidia" && mkdir -p "$WORK/masks/nvidia"
count=$(find -H "$NVIDIA_MASKS" -maxdepth 1 -iname '*.png' | wc -l)
find -H "$NVIDIA_MASKS" -maxdepth 1 -iname '*.png' | LC_ALL=C sort | awk -v step=$(( count > EVAL_MASKS ? count / EVAL_MASKS : 1 )) 'NR % step == 1 || step == 1' |
  head -n "$EVAL_MASKS" | while read -r file; do ln -s "$(realpath "$file")" "$WORK/masks/nvidia/"; done
invertfill eval --images "$WORK/heldout" --res "$RES" --device "$DEVICE" \
  --masks "hard=$WORK/masks/hard" --masks "extreme=$WORK/masks/extreme" --masks "all=$WORK/masks/all" --masks "nvidia=$WORK/masks/nvidia" \
  --model "invertfill=$WORK/default.safetensors" "${BASELINES[@]}" -o "$WORK/eval"
step done
