"""Stage 1 (StyleGAN2) training on a tiny config: runs, regularizers, resume, cancel, init, DDP."""

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from conftest import free_port, join_process_group, make_tiny_generator_config

from app.cli import main
from core.io.checkpoint import load_checkpoint
from core.io.image_io import Picture, write_image
from core.nn.config import DiscriminatorConfig
from training.config import GanTrainConfig
from training.distributed import DistributedContext
from training.run_folder import load_resume_state
from training.stage1 import Stage1Trainer, train_stylegan2

ROOT = Path(__file__).resolve().parents[1]


def tiny_gan_config(**overrides) -> GanTrainConfig:
    settings = dict(
        generator=make_tiny_generator_config(32),
        discriminator=DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16),
        batch=4, kimg=0.024, workers=0, tick_kimg=0.008, snapshot_ticks=2, samples=4,
        r1_interval=4, pl_interval=2, ada_interval=2, ada_kimg=1,
    )
    return GanTrainConfig(**{**settings, **overrides})


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for i in range(10):
        write_image(folder / f"{i}.png", Picture(rng.integers(0, 256, (40, 36, 3)).astype(np.uint8)))
    return folder


def all_parameters(*modules) -> list[torch.Tensor]:
    return [t.detach().clone() for m in modules for t in list(m.parameters()) + list(m.buffers())]


def test_a_short_run_writes_a_loadable_checkpoint_samples_and_logs(image_folder, tmp_path):
    reports = []
    result = train_stylegan2(tiny_gan_config(), image_folder, tmp_path / "run", device="cpu", progress=reports.append)
    assert result.images == 24 and result.steps == 6 and not result.interrupted
    loaded = load_checkpoint(result.checkpoint)
    generator = loaded.part("generator")
    assert loaded.stage == "stylegan2" and generator.config == tiny_gan_config().generator
    for a, b in zip(generator.state_dict().values(), result.generator_ema.state_dict().values()):
        assert torch.equal(a, b)
    assert generator(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    run = tmp_path / "run"
    assert (run / "config.json").is_file() and (run / "samples" / "reals.png").is_file()
    assert list((run / "samples").glob("fakes-*.png")) and list((run / "log").glob("events.out.tfevents.*"))
    assert [r.done for r in reports] == [8, 16, 24]
    for report in reports:
        assert all(np.isfinite(v) for v in report.values.values())
        assert report.values["loss_D"] > 0 and report.values["loss_G"] > 0


def test_ctrl_c_saves_before_stopping(image_folder, tmp_path):
    def interrupt(progress):
        raise KeyboardInterrupt

    result = train_stylegan2(tiny_gan_config(kimg=1), image_folder, tmp_path / "run", device="cpu", progress=interrupt)
    assert result.interrupted and result.checkpoint.is_file()
    assert load_resume_state(tmp_path / "run" / "checkpoints" / "resume.pt", torch.device("cpu"))["step"] == result.steps


def test_r1_and_path_length_are_nonzero_on_their_steps_only(image_folder):
    ctx = DistributedContext(0, 1, torch.device("cpu"))
    trainer = Stage1Trainer(tiny_gan_config(), ctx)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    first = trainer.train_step(real)
    assert first["r1"] > 0 and first["path_length"] > 0
    assert all(torch.isfinite(v) for v in first.values())
    second = trainer.train_step(real)
    assert "r1" not in second and "path_length" not in second
    third = trainer.train_step(real)
    assert "path_length" in third and "r1" not in third
    assert trainer.path_length.mean > 0


def test_adam_steps_by_the_configured_lr_since_the_regularizers_share_the_main_step():
    """Adam's first step moves every parameter with a gradient by exactly lr (β₁ = 0, bias-corrected
    β₂): no lazy-interval correction of lr or β₂, as there are no separate regularization steps."""
    trainer = Stage1Trainer(tiny_gan_config(lr=0.002), DistributedContext(0, 1, torch.device("cpu")))
    before = all_parameters(trainer.generator.synthesis, trainer.discriminator)
    trainer.train_step(torch.rand(4, 3, 32, 32) * 2 - 1)
    after = all_parameters(trainer.generator.synthesis, trainer.discriminator)
    steps = torch.cat([(a - b).abs().flatten() for a, b in zip(after, before)])
    moved = steps[steps > 0]
    assert moved.numel() > 0.9 * steps.numel()
    torch.testing.assert_close(moved.max(), torch.tensor(0.002), rtol=1e-3, atol=0)
    for optimizer in (trainer.opt_g, trainer.opt_d):
        assert optimizer.param_groups[0]["betas"] == (0.0, 0.99)


def test_training_neither_reads_nor_changes_the_global_rng():
    ctx = DistributedContext(0, 1, torch.device("cpu"))
    real = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        global_state = torch.get_rng_state()
        trainer = Stage1Trainer(tiny_gan_config(), ctx)
        trainer.augment.p.fill_(0.5)
        for _ in range(2):
            trainer.train_step(real)
        assert torch.equal(torch.get_rng_state(), global_state)
        runs.append(all_parameters(trainer.generator, trainer.discriminator, trainer.path_length))
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_resuming_reproduces_the_uninterrupted_run_exactly(image_folder, tmp_path):
    straight = train_stylegan2(tiny_gan_config(kimg=0.032), image_folder, tmp_path / "a", device="cpu")
    half = train_stylegan2(tiny_gan_config(kimg=0.016), image_folder, tmp_path / "b", device="cpu")
    assert half.images == 16
    resumed = train_stylegan2(tiny_gan_config(kimg=0.032), image_folder, tmp_path / "b", resume=tmp_path / "b", device="cpu")
    assert resumed.images == straight.images == 32 and resumed.steps == straight.steps
    expected = all_parameters(straight.generator, straight.generator_ema, straight.discriminator)
    actual = all_parameters(resumed.generator, resumed.generator_ema, resumed.discriminator)
    assert all(torch.equal(a, b) for a, b in zip(expected, actual))
    assert not torch.equal(all_parameters(half.generator)[0], expected[0])


def test_cancel_saves_a_checkpoint_and_a_resume_state(image_folder, tmp_path):
    cancel = threading.Event()
    result = train_stylegan2(tiny_gan_config(kimg=1), image_folder, tmp_path / "run", device="cpu", progress=lambda p: cancel.set(), cancel=cancel)
    assert result.interrupted and result.images == 8
    assert load_checkpoint(result.checkpoint).part("generator").config.resolution == 32
    assert load_resume_state(tmp_path / "run", torch.device("cpu"))["images"] == 8


def test_init_starts_from_a_rosinality_generator(image_folder, tmp_path):
    from test_rosinality_import import randomized_generator, rosinality_state

    config = make_tiny_generator_config(32, channel_base=16384, channel_max=512, style_dim=8)
    original = randomized_generator(config)
    torch.save({"g_ema": rosinality_state(original)}, tmp_path / "g.pt")
    trainer = Stage1Trainer(tiny_gan_config(), DistributedContext(0, 1, torch.device("cpu")), init=tmp_path / "g.pt")
    assert trainer.config.generator.style_dim == 8
    for a, b in zip(trainer.generator.state_dict().values(), original.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_trains_and_rejects_a_folder_of_junk(image_folder, tmp_path, capsys):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_gan_config().to_dict()))
    code = main(["train-gan", "--data", str(image_folder), "--out", str(tmp_path / "run"), "--config", str(config), "--device", "cpu", "--progress", "json"])
    out, _ = capsys.readouterr()
    assert code == 0 and '"done": 24' in out and "finished at" in out
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_text("not an image")
    (junk / "b.jpg").write_bytes(b"")
    code = main(["train-gan", "--data", str(junk), "--out", str(tmp_path / "run2"), "--config", str(config), "--device", "cpu"])
    announcement, error = capsys.readouterr().err.splitlines()
    assert announcement.startswith("stage 1 (StyleGAN2 32 px): 2 images in ") and error.startswith("invertfill: error: no usable image")
    assert code == 1 and not (tmp_path / "run2").exists()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_background_run_saves_its_state_when_killed(signal_number, image_folder, tmp_path):
    """Started as `nohup ... &` is (SIGINT ignored), a kill or SIGINT still stops the run as Ctrl-C does."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_gan_config(kimg=1000).to_dict()))
    command = [sys.executable, "-m", "app.cli", "train-gan", "--data", str(image_folder), "--out", str(tmp_path / "run"),
               "--config", str(config), "--device", "cpu", "--progress", "json"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert process.stdout.readline().startswith('{"done"')
    process.send_signal(signal_number)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted at" in out
    assert load_resume_state(tmp_path / "run", torch.device("cpu"))["images"] >= 8


def test_cli_minutes_stops_at_the_time_limit_saves_and_exits_zero(image_folder, tmp_path, capsys):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_gan_config(kimg=1000).to_dict()))
    code = main(["train-gan", "--data", str(image_folder), "--out", str(tmp_path / "run"), "--config", str(config), "--device", "cpu",
                 "--progress", "json", "--minutes", "0.02"])
    out, _ = capsys.readouterr()
    assert code == 0 and "stopped at the time limit" in out
    assert load_resume_state(tmp_path / "run", torch.device("cpu"))["images"] < 1_000_000
    assert load_checkpoint(next((tmp_path / "run" / "checkpoints").glob("network-*.safetensors"))).part("generator") is not None
    code = main(["train-gan", "--data", str(image_folder), "--out", str(tmp_path / "run2"), "--config", str(config), "--minutes", "0"])
    assert code == 1 and "--minutes must be positive" in capsys.readouterr().err


def _rank_worker(rank: int, port: int, data: str, out: str) -> None:
    join_process_group(rank, port)
    from training.distributed import shutdown_distributed

    result = train_stylegan2(tiny_gan_config(kimg=0.016), data, out, device="cpu")
    torch.save(all_parameters(result.generator, result.discriminator, result.generator_ema), f"{out}/rank{rank}.pt")
    shutdown_distributed()


def test_two_gloo_processes_keep_identical_parameters(image_folder, tmp_path):
    mp.spawn(_rank_worker, args=(free_port(), str(image_folder), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert len(rank0) == len(rank1) > 0
    assert all(torch.equal(a, b) for a, b in zip(rank0, rank1))
    single = train_stylegan2(tiny_gan_config(kimg=0.016), image_folder, tmp_path / "single", device="cpu")
    assert not all(torch.equal(a, b) for a, b in zip(rank0, all_parameters(single.generator, single.discriminator, single.generator_ema)))
