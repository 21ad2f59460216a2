"""Stage 2 (encoder, frozen generator) and the encoder-only domain fine-tune, on tiny configs."""

import json
import re

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from conftest import free_port, join_process_group, make_tiny_generator_config, make_tiny_invertfill_config

from app.cli import main
from core.engine.inpainter import Inpainter
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.image_io import Picture, write_image
from core.nn.config import DiscriminatorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from training.config import EncoderTrainConfig
from training.distributed import DistributedContext
from training.stage2 import Stage2Trainer, build_model, finetune_config, train_encoder

CPU = DistributedContext(0, 1, torch.device("cpu"))


def tiny_encoder_config(**overrides) -> EncoderTrainConfig:
    settings = dict(
        model=make_tiny_invertfill_config(32), backbone="discriminator", batch=4, kimg=0.016, workers=0,
        tick_kimg=0.008, snapshot_ticks=2, samples=2, masks={"hard": 0.5, "outpaint": 0.5},
    )
    return EncoderTrainConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def gan_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    generator = Generator(make_tiny_generator_config(32))
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    discriminator = Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16))
    path = tmp_path_factory.mktemp("gan") / "gan.safetensors"
    save_checkpoint(path, {"generator": generator, "discriminator": discriminator}, stage="stylegan2")
    return path


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        small = rng.integers(0, 256, (5, 5, 3)).astype(np.uint8)
        write_image(tmp_path / "images" / f"{i}.png", Picture(np.kron(small, np.ones((8, 8, 1), np.uint8))))
    return tmp_path / "images"


def parameters_of(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_the_loss_falls_and_the_generator_never_changes(gan_checkpoint):
    config = tiny_encoder_config(lr=2e-3, masks={"hard": 1.0})
    model, discriminator, _ = build_model(config, gan_checkpoint, finetune=False, seed=0)
    generator_before = parameters_of(model.generator)
    trainer = Stage2Trainer(config, CPU, model, discriminator, finetune=False)
    torch.manual_seed(1)
    images = torch.nn.functional.interpolate(torch.rand(4, 3, 4, 4) * 2 - 1, size=32, mode="bilinear")
    totals = [trainer.train_step(images)["total"].item() for _ in range(40)]
    assert all(np.isfinite(totals))
    assert np.mean(totals[-5:]) < 0.7 * np.mean(totals[:5]), totals
    assert same(parameters_of(model.generator), generator_before)


def test_training_steps_neither_read_nor_change_the_global_rng(gan_checkpoint):
    config = tiny_encoder_config()
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    runs = []
    for global_seed in (1, 2):
        model, discriminator, _ = build_model(config, gan_checkpoint, finetune=False, seed=0)
        trainer = Stage2Trainer(config, CPU, model, discriminator, finetune=False)
        torch.manual_seed(global_seed)
        global_state = torch.get_rng_state()
        for _ in range(2):
            trainer.train_step(images)
        assert torch.equal(torch.get_rng_state(), global_state)
        runs.append(parameters_of(model) + [b.clone() for b in model.buffers()])
    assert same(*runs)


def test_the_soft_mean_latent_moves_during_training_unless_sml_is_off(gan_checkpoint):
    for sml, should_move in ((True, True), (False, False)):
        config = tiny_encoder_config(model=make_tiny_invertfill_config(32, sml=sml))
        model, discriminator, _ = build_model(config, gan_checkpoint, finetune=False, seed=0)
        trainer = Stage2Trainer(config, CPU, model, discriminator, finetune=False)
        before = model.soft_mean_latent.online.clone()
        trainer.train_step(torch.rand(4, 3, 32, 32) * 2 - 1)
        assert (not torch.equal(model.soft_mean_latent.online, before)) == should_move


def test_a_run_writes_an_invertfill_checkpoint_the_engine_loads(gan_checkpoint, image_folder, tmp_path):
    result = train_encoder(tiny_encoder_config(), gan_checkpoint, image_folder, tmp_path / "run", device="cpu")
    assert result.images == 16 and not result.interrupted
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.stage == "encoder" and loaded.domain == "images" and set(loaded.parts) == {"invertfill", "discriminator"}
    assert list((tmp_path / "run" / "samples").glob("fills-*.png"))
    inpainter = Inpainter(result.checkpoint, device="cpu")
    picture = Picture(np.zeros((40, 50, 3), np.uint8))
    hole = np.zeros((40, 50), bool)
    hole[10:20, 10:30] = True
    filled = inpainter.fill(picture, hole, seed=0).pictures[0]
    assert filled.pixels.shape == (40, 50, 3) and (filled.pixels[~hole] == 0).all()


def test_resuming_reproduces_the_uninterrupted_run(gan_checkpoint, image_folder, tmp_path):
    straight = train_encoder(tiny_encoder_config(kimg=0.024), gan_checkpoint, image_folder, tmp_path / "a", device="cpu")
    train_encoder(tiny_encoder_config(kimg=0.012), gan_checkpoint, image_folder, tmp_path / "b", device="cpu")
    resumed = train_encoder(tiny_encoder_config(kimg=0.024), gan_checkpoint, image_folder, tmp_path / "b", resume=tmp_path / "b", device="cpu")
    assert resumed.images == straight.images == 24
    assert same(parameters_of(resumed.model), parameters_of(straight.model))
    assert torch.equal(resumed.model.soft_mean_latent.online, straight.model.soft_mean_latent.online)


def test_finetuning_changes_only_the_encoder_side(gan_checkpoint, image_folder, tmp_path):
    base = train_encoder(tiny_encoder_config(), gan_checkpoint, image_folder, tmp_path / "base", device="cpu")
    reports = []
    config = finetune_config(base.checkpoint, "outpaint", kimg=0.008, batch=4, workers=0, tick_kimg=0.004)
    tuned = train_encoder(config, base.checkpoint, image_folder, tmp_path / "tuned", finetune=True, domain="paintings", device="cpu",
                          progress=reports.append)
    model = load_checkpoint(tuned.checkpoint)
    assert model.domain == "paintings" and model.stage == "finetune" and reports
    before, after = base.model, model.part("invertfill")
    assert same(parameters_of(after.generator), parameters_of(before.generator))
    assert same(parameters_of(after.rgb_branch), parameters_of(before.rgb_branch))
    assert not same(parameters_of(after.encoder), parameters_of(before.encoder))
    assert not same(parameters_of(after.pre_modulation), parameters_of(before.pre_modulation))


def test_finetuning_needs_a_complete_model_and_a_refused_start_leaves_no_run_folder(gan_checkpoint, image_folder, tmp_path):
    with pytest.raises(InvertFillError, match="not a complete InvertFill model"):
        train_encoder(EncoderTrainConfig(), gan_checkpoint, image_folder, tmp_path / "run", finetune=True, device="cpu")
    assert not (tmp_path / "run").exists()


def test_a_missing_vgg_file_is_a_clear_error(gan_checkpoint, image_folder, tmp_path, hub_dir):
    with pytest.raises(InvertFillError, match="vgg16-397923af.pth were not found"):
        train_encoder(tiny_encoder_config(backbone="vgg16"), gan_checkpoint, image_folder, tmp_path / "run", device="cpu")


@pytest.mark.parametrize("flags", [[], ["--latent-space", "w+"], ["--no-premod"], ["--no-sml"]])
def test_the_ablations_train_through_the_same_command(gan_checkpoint, image_folder, tmp_path, capsys, flags):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(tiny_encoder_config(kimg=0.008).to_dict()))
    code = main(["train-encoder", "--gan", str(gan_checkpoint), "--data", str(image_folder), "--out", str(tmp_path / "run"),
                 "--config", str(settings), "--device", "cpu", "--progress", "json", "--domain", "scenes", *flags])
    out, _ = capsys.readouterr()
    assert code == 0 and "finished at" in out
    checkpoint = load_checkpoint(next((tmp_path / "run" / "checkpoints").glob("network-*.safetensors")))
    model = checkpoint.part("invertfill")
    assert checkpoint.domain == "scenes"
    assert (model.rgb_branch is None) == ("w+" in flags)
    assert (model.pre_modulation is None) == ("--no-premod" in flags)
    assert model.config.sml == ("--no-sml" not in flags)


def test_cli_finetune_estimates_the_time_first(gan_checkpoint, image_folder, tmp_path, capsys):
    base = train_encoder(tiny_encoder_config(), gan_checkpoint, image_folder, tmp_path / "base", device="cpu")
    code = main(["finetune", "--model", str(base.checkpoint), "--data", str(image_folder), "--out", str(tmp_path / "tuned"),
                 "--kimg", "0.008", "--batch", "4", "--workers", "0", "--device", "cpu", "--domain", "art"])
    out, err = capsys.readouterr()
    assert code == 0 and re.search(r"estimated time here: \d+ s\b", err), "a short run's estimate is in seconds, not '0 min'"
    assert load_checkpoint(next((tmp_path / "tuned" / "checkpoints").glob("network-*.safetensors"))).domain == "art"


def _rank_worker(rank: int, port: int, gan: str, data: str, out: str) -> None:
    join_process_group(rank, port)
    from training.distributed import shutdown_distributed

    result = train_encoder(tiny_encoder_config(kimg=0.008), gan, data, out, device="cpu")
    torch.save(parameters_of(result.model) + [result.model.soft_mean_latent.online], f"{out}/rank{rank}.pt")
    shutdown_distributed()


def test_two_gloo_processes_keep_identical_models(gan_checkpoint, image_folder, tmp_path):
    mp.spawn(_rank_worker, args=(free_port(), str(gan_checkpoint), str(image_folder), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert len(rank0) == len(rank1) > 0 and same(rank0, rank1)


def test_fill_grids_show_one_row_per_kind(gan_checkpoint, image_folder, tmp_path):
    from core.io.image_io import read_image

    train_encoder(tiny_encoder_config(samples=3), gan_checkpoint, image_folder, tmp_path / "run", device="cpu")
    grid = read_image(next((tmp_path / "run" / "samples").glob("fills-*.png"))).pixels
    assert grid.shape == (4 * 32, 3 * 32, 3)


def test_the_learning_rate_ramps_down_to_zero_over_the_last_share_of_the_run(gan_checkpoint, image_folder):
    config = tiny_encoder_config(lr=1e-3, lr_rampdown=0.5, kimg=0.016)
    assert [config.learning_rate(images) for images in (0, 8, 12, 16, 20)] == pytest.approx([1e-3, 1e-3, 5e-4, 0, 0], abs=1e-12)
    assert tiny_encoder_config(lr=1e-3).learning_rate(16) == 1e-3
    with pytest.raises(InvertFillError, match="lr_rampdown is a share of the run from 0 to 1, got 1.5"):
        tiny_encoder_config(lr_rampdown=1.5)
    model, discriminator, _ = build_model(config, gan_checkpoint, False, 0)
    trainer = Stage2Trainer(config, DistributedContext(0, 1, torch.device("cpu")), model, discriminator, finetune=False)
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    rates = []
    for _ in range(4):
        trainer.train_step(images)
        rates.append(trainer.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4], abs=1e-12)


def test_stage2_checkpoints_inherit_the_gans_model_card(gan_checkpoint, image_folder, tmp_path):
    from core.io.checkpoint import export_checkpoint
    from core.io.checkpoint_header import ALIGNED_FACE, ModelCard

    card = ModelCard(ALIGNED_FACE, "test faces: tests only")
    carded = tmp_path / "gan.safetensors"
    export_checkpoint(gan_checkpoint, carded, framing=card.framing, data_terms=card.data_terms)
    _, _, inherited = build_model(tiny_encoder_config(), carded, finetune=False, seed=0)
    assert inherited == card
    train_encoder(tiny_encoder_config(kimg=0.008), carded, image_folder, tmp_path / "run", device="cpu")
    snapshot = sorted((tmp_path / "run" / "checkpoints").glob("network-*.safetensors"))[-1]
    assert load_checkpoint(snapshot).card == card
