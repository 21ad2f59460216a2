"""The `invertfill` command line: every bad input is one line on stderr, a non-zero exit, no file."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from core.io.image_io import Picture, read_image, write_image

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("invertfill: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def model_args(tiny_checkpoint) -> list[str]:
    return ["--model", str(tiny_checkpoint), "--device", "cpu", "--seed", "0"]


def test_fill_writes_the_output_and_keeps_known_pixels(capsys, photo_and_mask, model_args, tmp_path):
    image, mask = photo_and_mask
    code, out, err = run(capsys, "fill", image, mask, "-o", tmp_path / "out.png", *model_args)
    assert code == 0 and err == ""
    assert "wrote" in out and "InvertFill 32 px" in out and "seed 0" in out
    original, filled = read_image(image).pixels, read_image(tmp_path / "out.png").pixels
    hole = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127
    assert filled.shape == original.shape
    assert np.array_equal(filled[~hole], original[~hole]) and not np.array_equal(filled[hole], original[hole])


@pytest.mark.usefixtures("no_default_model")
def test_the_classic_fallback_is_named_in_the_output(capsys, photo_and_mask, tmp_path):
    image, mask = photo_and_mask
    code, out, _ = run(capsys, "fill", image, mask, "-o", tmp_path / "out.png")
    assert code == 0 and "classic OpenCV fill (Telea): no InvertFill model was found" in out


def _bad_inputs(tmp_path: Path, image: Path) -> dict:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, I am not a picture\n")
    jpeg = tmp_path / "whole.jpg"
    write_image(jpeg, Picture(np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)))
    (tmp_path / "cut.jpg").write_bytes(jpeg.read_bytes()[:800])
    (tmp_path / "cut.png").write_bytes(image.read_bytes()[:500])
    (tmp_path / "folder.png").mkdir()
    return {
        "missing": (tmp_path / "absent.png", "does not exist"),
        "folder": (tmp_path / "folder.png", "is a folder"),
        "zero bytes": (tmp_path / "empty.png", "empty file"),
        "truncated jpeg": (tmp_path / "cut.jpg", "truncated or corrupt"),
        "truncated png": (tmp_path / "cut.png", "truncated or corrupt"),
        "text named png": (tmp_path / "text.png", "not a PNG, JPEG, WebP, BMP or TIFF image"),
    }


@pytest.mark.parametrize("case", ["missing", "folder", "zero bytes", "truncated jpeg", "truncated png", "text named png"])
@pytest.mark.parametrize("role", ["image", "mask"])
def test_bad_image_or_mask_files(capsys, photo_and_mask, model_args, tmp_path, case, role):
    image, mask = photo_and_mask
    bad, message = _bad_inputs(tmp_path, image)[case]
    files = [bad, mask] if role == "image" else [image, bad]
    out_path = tmp_path / "out.png"
    code, _, err = run(capsys, "fill", *files, "-o", out_path, *model_args)
    assert_one_line_error(code, err, message, f"error: {role} ")
    assert not out_path.exists()


def test_a_mask_of_another_size_is_resized_with_a_warning(capsys, photo_and_mask, model_args, tmp_path):
    image, _ = photo_and_mask
    small = tmp_path / "small_mask.png"
    write_image(small, Picture(np.full((9, 12, 1), 255, np.uint8)))
    code, out, err = run(capsys, "fill", image, small, "-o", tmp_path / "out.png", *model_args)
    assert code == 0 and "note: small_mask.png is 12×9 but the image is 120×90; resized the mask" in err
    assert read_image(tmp_path / "out.png").pixels.shape == (90, 120, 3)


def test_an_empty_mask_gives_the_input_back_with_a_note(capsys, photo_and_mask, model_args, tmp_path):
    image, _ = photo_and_mask
    blank = tmp_path / "blank.png"
    write_image(blank, Picture(np.zeros((90, 120, 1), np.uint8)))
    code, _, err = run(capsys, "fill", image, blank, "-o", tmp_path / "out.png", *model_args)
    assert code == 0 and "mask is empty" in err
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, read_image(image).pixels)


def test_a_full_mask_is_filled(capsys, photo_and_mask, model_args, tmp_path):
    image, _ = photo_and_mask
    full = tmp_path / "full.png"
    write_image(full, Picture(np.full((90, 120, 1), 255, np.uint8)))
    code, _, err = run(capsys, "fill", image, full, "-o", tmp_path / "out.png", *model_args)
    assert code == 0 and "whole image" in err and (tmp_path / "out.png").is_file()


def test_output_folders_are_created_and_an_unwritable_output_is_refused(capsys, photo_and_mask, model_args, tmp_path):
    image, mask = photo_and_mask
    code, _, _ = run(capsys, "fill", image, mask, "-o", tmp_path / "new" / "dir" / "out.png", *model_args)
    assert code == 0 and (tmp_path / "new" / "dir" / "out.png").is_file()
    (tmp_path / "plain_file").write_text("x")
    code, _, err = run(capsys, "fill", image, mask, "-o", tmp_path / "plain_file" / "out.png", *model_args)
    assert_one_line_error(code, err, "cannot write")


def test_output_equal_to_the_input_is_refused_unless_overwrite(capsys, photo_and_mask, model_args):
    image, mask = photo_and_mask
    before = image.read_bytes()
    code, _, err = run(capsys, "fill", image, mask, "-o", image, *model_args)
    assert_one_line_error(code, err, "would replace the input", "--overwrite")
    assert image.read_bytes() == before
    code, _, _ = run(capsys, "fill", image, mask, "-o", image, "--overwrite", *model_args)
    assert code == 0 and image.read_bytes() != before


def test_corrupt_and_foreign_checkpoints_are_refused(capsys, photo_and_mask, tmp_path):
    image, mask = photo_and_mask
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(os.urandom(300))
    pickle_file = tmp_path / "generator.pt"
    import torch

    torch.save({"g_ema": {"w": torch.zeros(2)}}, pickle_file)
    for checkpoint, message in [(corrupt, "truncated or corrupt"), (pickle_file, "pickle")]:
        code, _, err = run(capsys, "fill", image, mask, "-o", tmp_path / "out.png", "--model", checkpoint)
        assert_one_line_error(code, err, message)
    assert not (tmp_path / "out.png").exists()


def test_cuda_without_cuda_is_refused(capsys, photo_and_mask, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    image, mask = photo_and_mask
    code, _, err = run(capsys, "fill", image, mask, "-o", tmp_path / "out.png", "--model", tiny_checkpoint, "--device", "cuda")
    assert_one_line_error(code, err, "no usable CUDA device")


def test_variations_write_k_files(capsys, photo_and_mask, model_args, tmp_path):
    image, mask = photo_and_mask
    code, out, _ = run(capsys, "fill", image, mask, "-o", tmp_path / "v.png", "--variations", "3", *model_args)
    assert code == 0 and out.count("wrote") == 3
    fills = [read_image(tmp_path / f"v_{k}.png").pixels for k in (1, 2, 3)]
    assert not np.array_equal(fills[0], fills[1]) and not np.array_equal(fills[1], fills[2])


def test_batch_summarizes_filled_and_skipped(capsys, tmp_path, model_args):
    images = tmp_path / "in"
    for name in ("a.png", "b.png"):
        write_image(images / name, Picture(np.zeros((30, 40, 3), np.uint8)))
    write_image(images / "a_mask.png", Picture(np.full((30, 40, 1), 255, np.uint8)))
    code, out, err = run(capsys, "batch", images, "-o", tmp_path / "out", "--progress", "json", *model_args)
    assert code == 1
    assert "filled 1, skipped 1" in out and "skipped b.png: no mask named b_mask.*" in out
    assert '"done": 1, "total": 1' in out
    assert (tmp_path / "out" / "a.png").is_file() and not (tmp_path / "out" / "b.png").exists()


def test_batch_writes_png_by_default_and_format_same_keeps_each_inputs_format(capsys, tmp_path, model_args):
    images = tmp_path / "in"
    rng = np.random.default_rng(1)
    write_image(images / "a.jpg", Picture(cv2.GaussianBlur(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8), (0, 0), 2)))
    mask = np.zeros((30, 40, 1), np.uint8)
    mask[10:20, 10:30] = 255
    write_image(images / "a_mask.png", Picture(mask))
    code, out, _ = run(capsys, "batch", images, "-o", tmp_path / "out", *model_args)
    assert code == 0 and "filled 1, skipped 0" in out and sorted(os.listdir(tmp_path / "out")) == ["a.png"]
    known = mask[..., 0] == 0
    assert np.array_equal(read_image(tmp_path / "out" / "a.png").pixels[known], read_image(images / "a.jpg").pixels[known])
    code, _, _ = run(capsys, "batch", images, "-o", tmp_path / "same", "--format", "same", *model_args)
    assert code == 0 and sorted(os.listdir(tmp_path / "same")) == ["a.jpg"]


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_a_classic_fill_prints_no_seed_and_the_model_does(capsys, photo_and_mask, tmp_path, method):
    image, mask = photo_and_mask
    code, out, _ = run(capsys, "fill", image, mask, "-o", tmp_path / "out.png", "--method", method, "--seed", "4")
    assert code == 0 and out.startswith("wrote") and "seed" not in out


def test_the_variation_strength_changes_how_different_variations_are(capsys, photo_and_mask, model_args, tmp_path):
    image, mask = photo_and_mask
    hole = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127
    differences = []
    for strength in ("0", "1"):
        out = tmp_path / f"s{strength}.png"
        code, _, _ = run(capsys, "fill", image, mask, "-o", out, "--variations", "2", "--variation-strength", strength, *model_args)
        first, second = (read_image(tmp_path / f"s{strength}_{k}.png").pixels[hole].astype(int) for k in (1, 2))
        differences.append(np.abs(first - second).mean())
    assert code == 0 and differences[0] < differences[1]
    code, _, err = run(capsys, "fill", image, mask, "-o", tmp_path / "x.png", "--variation-strength", "2", *model_args)
    assert_one_line_error(code, err, "between 0 and 1")


def test_batch_on_a_missing_folder(capsys, tmp_path):
    code, _, err = run(capsys, "batch", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert_one_line_error(code, err, "does not exist")


def test_info_describes_a_checkpoint(capsys, tiny_checkpoint):
    code, out, _ = run(capsys, "info", tiny_checkpoint)
    assert code == 0
    assert "stage: encoder" in out and "domain: tests" in out and "generator.resolution: 32" in out and "latent_space: fw+" in out


def test_export_half_halves_the_file_and_fills_like_the_original(capsys, tiny_checkpoint, photo_and_mask, tmp_path):
    import torch

    from core.engine.inpainter import Inpainter
    from core.io.checkpoint import load_checkpoint

    code, out, _ = run(capsys, "export", tiny_checkpoint, "-o", tmp_path / "half.safetensors", "--half", "--domain", "shipped")
    assert code == 0 and "float16" in out
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * tiny_checkpoint.stat().st_size
    full, half = load_checkpoint(tiny_checkpoint), load_checkpoint(tmp_path / "half.safetensors")
    assert half.domain == "shipped" and half.stage == full.stage
    for (key, a), b in zip(full.part("invertfill").state_dict().items(), half.part("invertfill").state_dict().values()):
        assert b.dtype == a.dtype and torch.equal(b, a.half().to(a.dtype) if a.is_floating_point() else a), key
    image, mask = photo_and_mask
    picture, hole = read_image(image), cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127
    results = [Inpainter(path, "cpu").fill(picture, hole, "crop", seed=0).pictures[0].pixels.astype(int) for path in
               (tiny_checkpoint, tmp_path / "half.safetensors")]
    assert np.array_equal(results[0][~hole], results[1][~hole]) and np.abs(results[0] - results[1])[hole].mean() < 2
    code, _, err = run(capsys, "export", tiny_checkpoint, "-o", tiny_checkpoint)
    assert_one_line_error(code, err, "is the checkpoint being exported")


def test_export_without_the_discriminator_keeps_the_model_only(capsys, tiny_checkpoint, tmp_path):
    import torch

    from core.io.checkpoint import load_checkpoint, save_checkpoint
    from core.nn.config import DiscriminatorConfig
    from core.nn.discriminator import Discriminator

    model = load_checkpoint(tiny_checkpoint).part("invertfill")
    discriminator = Discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=16))
    save_checkpoint(tmp_path / "both.safetensors", {"invertfill": model, "discriminator": discriminator}, stage="encoder")
    code, _, _ = run(capsys, "export", tmp_path / "both.safetensors", "-o", tmp_path / "model.safetensors", "--no-discriminator")
    exported = load_checkpoint(tmp_path / "model.safetensors")
    assert code == 0 and set(exported.parts) == {"invertfill"}
    for a, b in zip(model.state_dict().values(), exported.part("invertfill").state_dict().values(), strict=True):
        assert torch.equal(a, b)
    code, _, err = run(capsys, "export", tiny_checkpoint, "-o", tmp_path / "none.safetensors", "--no-discriminator")
    assert_one_line_error(code, err, "has no part 'discriminator'; its parts: invertfill")
    assert not (tmp_path / "none.safetensors").exists()


@pytest.mark.parametrize("argv", [["--help"], ["fill", "--help"], ["batch", "--help"], ["info", "--help"], ["--version"]])
def test_help_and_version(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "invertfill" in capsys.readouterr().out


def test_the_installed_entry_point_reports_errors_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "fill", tmp_path / "no.png", tmp_path / "no_mask.png", "-o", tmp_path / "o.png"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_8000_by_8000_image_is_filled_with_bounded_memory(tmp_path, tiny_checkpoint):
    y = np.linspace(0, 255, 8000, dtype=np.float32)
    image = np.empty((8000, 8000, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = y[:, None], y[None, :], 128
    cv2.imwrite(str(tmp_path / "big.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    mask = np.zeros((8000, 8000), np.uint8)
    mask[1000:1200, 2000:2300] = mask[6000:6100, 7000:7900] = 255
    cv2.imwrite(str(tmp_path / "big_mask.png"), mask)
    del image
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "fill", tmp_path / "big.png", tmp_path / "big_mask.png", "-o", tmp_path / "out.png",
         "--model", tiny_checkpoint, "--device", "cpu"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, process.stderr.read().decode()
    peak_bytes = usage.ru_maxrss * 1024
    assert peak_bytes < 1.5 * 2**30, f"peak memory {peak_bytes / 2**20:.0f} MiB"
    filled = cv2.imread(str(tmp_path / "out.png"))
    assert filled.shape == (8000, 8000, 3)
    known = mask == 0
    assert np.array_equal(filled[known][::997], cv2.imread(str(tmp_path / "big.png"))[known][::997])



@pytest.fixture
def training_images(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(6):
        write_image(tmp_path / "images" / f"{i}.png", Picture(rng.integers(0, 256, (40, 36, 3)).astype(np.uint8)))
    return tmp_path / "images"


def train_into_a_pipe(data: Path, *argv: str) -> list[str]:
    """Run a training command in a process whose stderr is a pipe, as under nohup; its stderr lines."""
    result = subprocess.run([sys.executable, "-m", "app.cli", *argv, "--data", str(data), "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def tiny_gan_run(data: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A two-tick stage 1 on `data` into tmp_path/gan: its last checkpoint and stderr lines."""
    from test_stage1 import tiny_gan_config

    (tmp_path / "gan.json").write_text(json.dumps(tiny_gan_config(kimg=0.016).to_dict()))
    lines = train_into_a_pipe(data, "train-gan", "--config", str(tmp_path / "gan.json"), "--out", str(tmp_path / "gan"))
    return max((tmp_path / "gan" / "checkpoints").glob("network-*.safetensors")), lines


def test_train_gan_into_a_pipe_announces_itself_and_prints_a_line_per_tick(training_images, tmp_path):
    _, lines = tiny_gan_run(training_images, tmp_path)
    assert lines[0] == f"stage 1 (StyleGAN2 32 px): 6 images in {training_images} -> {tmp_path / 'gan'}"
    assert re.fullmatch(r"tick 1  kimg 0\.008/0\.016  [\d.]+ img/s  ETA \d+m\d\ds  G \S+  .*D \S+.*augment_p \S+", lines[1])
    assert [line.split()[:2] for line in lines[1:]] == [["tick", "1"], ["tick", "2"]]


@pytest.mark.slow
def test_train_encoder_into_a_pipe_announces_itself_and_prints_a_line_per_tick(training_images, tmp_path):
    from test_stage2 import tiny_encoder_config

    checkpoint, _ = tiny_gan_run(training_images, tmp_path)
    (tmp_path / "encoder.json").write_text(json.dumps(tiny_encoder_config(kimg=0.008).to_dict()))
    lines = train_into_a_pipe(training_images, "train-encoder", "--gan", str(checkpoint), "--config", str(tmp_path / "encoder.json"),
                              "--out", str(tmp_path / "encoder"))
    assert lines[0] == f"stage 2 (fw+ encoder around {checkpoint.name}): 6 images in {training_images} -> {tmp_path / 'encoder'}"
    assert lines[1].startswith("tick 1  kimg 0.008/0.008  ") and "  total " in lines[1] and len(lines) == 2


def test_a_reader_that_stops_early_gets_no_error_message(tiny_checkpoint):
    """`invertfill info CKPT | head -1`: the pipe closes before info writes; it stops without a traceback."""
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "info", str(tiny_checkpoint)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    assert process.wait(timeout=60) == 1
    assert process.stderr.read() == b""
