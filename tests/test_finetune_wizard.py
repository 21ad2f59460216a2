"""The fine-tune wizard: folder checks, a quick run in a separate process, cancel, crash reports."""

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractButton, QWizard

from app.gui.finetune_setup import PRESETS, PREVIEWS
from app.gui.finetune_wizard import FinetuneWizard
from app.gui.loss_plot import LossPlot
from core.io.checkpoint import load_checkpoint
from core.io.resources import resource_path
from training.finetune_job import SNAPSHOT_SAMPLES, FinetuneJob
from training.finetune_timing import FinetuneTiming
from training.folder_scan import MINIMUM_IMAGES, scan_image_folder

pytestmark = pytest.mark.gui


def screenshot(widget, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("INVERTFILL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(folder / f"{name}.png"))


def test_scan_counts_usable_unreadable_and_duplicate_images(domain_folder, tmp_path):
    (domain_folder / "notes.png").write_text("not an image")
    (domain_folder / "copy.png").write_bytes((domain_folder / "photo3.png").read_bytes())
    scan = scan_image_folder(domain_folder)
    assert len(scan.usable) == 8 and scan.is_enough and "under ~100" in scan.verdict()
    assert [p.name for p, _ in scan.unreadable] == ["notes.png"]
    assert [(p.name, q.name) for p, q in scan.duplicates] == [("photo3.png", "copy.png")]
    assert len(scan.small) == 8 and scan.size_summary() == "shorter side 48 px"
    (tmp_path / "few").mkdir()
    for path in sorted(domain_folder.glob("photo*.png"))[: MINIMUM_IMAGES - 1]:
        (tmp_path / "few" / path.name).write_bytes(path.read_bytes())
    few = scan_image_folder(tmp_path / "few")
    assert not few.is_enough and f"at least {MINIMUM_IMAGES}" in few.verdict()
    (tmp_path / "few" / "wide.png").write_bytes(cv2.imencode(".png", np.zeros((80, 120, 3), np.uint8))[1].tobytes())
    assert scan_image_folder(tmp_path / "few").size_summary() == "shorter side 48–80 px (median 48)"


def next_enabled(wizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def scan(wizard, qtbot, folder: Path) -> None:
    """Pick `folder` on the images page; Next stays disabled until its background check is shown."""
    page = wizard.images_page
    page.scan_folder(folder)
    assert page.scanning and not next_enabled(wizard) and "Checking the images" in page.verdict.text()
    qtbot.waitUntil(lambda: not page.scanning, timeout=30000)


@pytest.fixture
def wizard(qtbot, user_data, answers, tiny_finetune_base):
    wizard = FinetuneWizard(tiny_finetune_base, "cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_the_folder_page_rejects_empty_and_junk_folders_and_accepts_a_good_one(wizard, qtbot, domain_folder, tmp_path):
    (tmp_path / "empty").mkdir()
    junk = tmp_path / "junk"
    junk.mkdir()
    for name in ("a.png", "b.jpg", "c.webp", "d.png", "e.png"):
        (junk / name).write_bytes(os.urandom(300))
    assert not next_enabled(wizard)
    scan(wizard, qtbot, tmp_path / "empty")
    assert not next_enabled(wizard) and "No usable image" in wizard.images_page.verdict.text()
    scan(wizard, qtbot, junk)
    assert not next_enabled(wizard) and wizard.images_page.details.toPlainText().count("unreadable") == 5
    scan(wizard, qtbot, domain_folder)
    assert next_enabled(wizard) and wizard.images_page.strip.count() == 8
    scan(wizard, qtbot, tmp_path / "nowhere")
    assert not next_enabled(wizard) and "is not a folder" in wizard.images_page.verdict.text()


def test_the_folder_page_counts_a_single_photo_in_the_singular(wizard, qtbot, domain_folder, tmp_path):
    single = tmp_path / "single"
    single.mkdir()
    (single / "photo0.png").write_bytes((domain_folder / "photo0.png").read_bytes())
    scan(wizard, qtbot, single)
    details = wizard.images_page.details.toPlainText().splitlines()
    assert details[0].startswith("1 usable image;") and details[-1] == "1 image under 256 px, to be upscaled"
    assert not next_enabled(wizard) and wizard.images_page.verdict.text().startswith("Only 1 usable image:")


def test_a_typed_folder_is_checked_when_typing_pauses_without_enter(wizard, qtbot, domain_folder):
    page = wizard.images_page
    page.folder.setFocus()
    qtbot.keyClicks(page.folder, str(domain_folder))
    assert not page.scanning and page.scan is None
    qtbot.waitUntil(lambda: page.scan is not None, timeout=10000)
    assert page._scans_started == 1 and next_enabled(wizard) and page.strip.count() == 8
    qtbot.keyClick(page.folder, Qt.Key.Key_Backspace)
    assert not next_enabled(wizard)
    qtbot.waitUntil(lambda: not page.scanning and "is not a folder" in page.verdict.text(), timeout=10000)


def test_portrait_thumbnails_fit_their_strip_without_a_vertical_scroll_bar(wizard, qtbot, tmp_path):
    from tests.gui_helpers import write_photo

    (tmp_path / "portraits").mkdir()
    for index in range(12):
        write_photo(tmp_path / "portraits" / f"person{index}.png", 48, 64, seed=index)
    scan(wizard, qtbot, tmp_path / "portraits")
    strip = wizard.images_page.strip
    qtbot.wait(200)
    assert strip.count() == 12 and strip.horizontalScrollBar().isVisible() and not strip.verticalScrollBar().isVisible()


def test_the_loss_plot_has_a_labelled_y_axis(qtbot):
    """Left of the plot's frame the loss values are written (highest at the top, lowest at the bottom)."""
    plot = LossPlot("total loss")
    qtbot.addWidget(plot)
    plot.resize(360, 200)
    for step, loss in enumerate([2.4, 1.8, 1.3, 1.1, 0.95, 0.9]):
        plot.add(step * 40, loss)
    image = plot.grab().toImage()
    rgb = np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())] for y in range(image.height())])
    curve = (rgb[..., 0] > 150) & (rgb[..., 1] < 120)
    curve_left = int(np.flatnonzero(curve.any(axis=0))[0])
    text = (rgb.max(axis=-1) < 110)[:, : curve_left - 6]
    third = image.height() // 3
    assert text[:third].any() and text[-third:].any()


def go_to_training(wizard, qtbot, domain_folder, output: Path, steps: int, screenshots: Path | None = None) -> None:
    """Fill in the pages up to Start training; with `screenshots`, wait for the estimate and save each page."""
    scan(wizard, qtbot, domain_folder)
    if screenshots:
        screenshot(wizard, "wizard_1_images", screenshots)
    wizard.next()
    assert next_enabled(wizard)
    if screenshots:
        screenshot(wizard, "wizard_2_task", screenshots)
    wizard.next()
    settings = wizard.settings_page
    assert settings.name.text() == "my-photos"
    settings.advanced_toggle.setChecked(True)
    settings.steps.setValue(steps)
    settings.batch.setValue(4)
    settings.output_folder.setText(str(output))
    if screenshots:
        qtbot.waitUntil(lambda: settings.timing is not None, timeout=60000)
        assert settings.estimate.text().startswith("About ") and "CPU" in settings.estimate.text()
        screenshot(wizard, "wizard_3_settings", screenshots)
    qtbot.waitUntil(settings.isComplete, timeout=60000)
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "Start training"
    wizard.next()
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()


def parameters(module) -> list[torch.Tensor]:
    return [p.detach() for p in module.parameters()]


def timed_settings_page(wizard, qtbot, domain_folder: Path, tmp_path: Path):
    """The settings page, reached once the timing that starts as the wizard opens is done."""
    settings = wizard.settings_page
    qtbot.waitUntil(lambda: settings.timing is not None, timeout=60000)
    scan(wizard, qtbot, domain_folder)
    wizard.next()
    wizard.next()
    settings.output_folder.setText(str(tmp_path / "models"))
    return settings


def test_the_timing_starts_as_the_wizard_opens_and_fits_each_preset_to_its_time(wizard, qtbot, domain_folder, tmp_path):
    settings = timed_settings_page(wizard, qtbot, domain_folder, tmp_path)
    assert settings.isComplete() and settings.estimate.text().startswith("About ")
    for key, preset in PRESETS.items():
        settings.preset.setCurrentIndex(settings.preset.findData(key))
        steps, batch = settings.steps.value(), settings.batch.value()
        fitted = settings.timing.steps_within(preset.seconds, preset.batch, PREVIEWS, SNAPSHOT_SAMPLES)
        assert batch == preset.batch and steps == min(preset.max_steps, fitted)
        assert settings.timing.job_seconds(steps, batch, PREVIEWS, SNAPSHOT_SAMPLES) <= preset.seconds or steps == 1
        assert f"({steps} steps of {batch} images)" in settings.estimate.text()


def test_steps_set_by_hand_survive_a_timing_that_arrives_later(wizard, qtbot, domain_folder, tmp_path):
    settings = timed_settings_page(wizard, qtbot, domain_folder, tmp_path)
    settings.advanced_toggle.setChecked(True)
    settings.steps.setValue(77)
    timing = FinetuneTiming(setup_s=1.0, step_s=0.02, image_s=0.01, fill_s=0.01, snapshot_s=0.5, load_s=0.2)
    settings._estimated(*settings.timing_key, timing, "")
    assert settings.steps.value() == 77 and settings.estimate.text() == "About 13 s on CPU (77 steps of 4 images)"
    settings.preset.setCurrentIndex(settings.preset.findData("standard"))
    assert (settings.steps.value(), settings.batch.value()) == (PRESETS["standard"].max_steps, PRESETS["standard"].batch)


def test_a_run_that_cannot_start_is_not_offered_and_its_long_reason_wraps_inside_1000_px(wizard, qtbot, domain_folder, tmp_path):
    settings = timed_settings_page(wizard, qtbot, domain_folder, tmp_path)
    assert wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    settings.timings.clear()
    reason = "the VGG16 weights vgg16-397923af.pth were not found at " + "/a/very/long/path" * 20 + "/vgg16-397923af.pth"
    settings._estimated(*settings.timing_key, None, reason)
    qtbot.wait(100)
    assert settings.estimate.text() == f"A fine-tune cannot start here: {reason}"
    assert not settings.isComplete() and not wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    assert wizard.width() <= 1000 and wizard.sizeHint().width() <= 1000 and wizard.minimumSizeHint().width() <= 1000
    start = wizard.button(QWizard.WizardButton.CommitButton)
    assert start.isVisible() and start.mapTo(wizard, start.rect().bottomRight()).x() <= wizard.width()
    screenshot(wizard, "wizard_3_cannot_start", tmp_path)


def test_the_wizard_opens_on_the_last_folder_it_trained_on(qtbot, user_data, answers, tiny_finetune_base, domain_folder, tmp_path):
    first = FinetuneWizard(tiny_finetune_base, "cpu")
    qtbot.addWidget(first)
    first.show()
    scan(first, qtbot, tmp_path / "nowhere")
    scan(first, qtbot, domain_folder)
    first.close()
    again = FinetuneWizard(tiny_finetune_base, "cpu")
    qtbot.addWidget(again)
    again.show()
    assert again.images_page.folder.text() == str(domain_folder)
    qtbot.waitUntil(lambda: not again.images_page.scanning, timeout=30000)
    assert next_enabled(again) and again.images_page.strip.count() == 8


def test_a_model_without_a_discriminator_is_offered_with_a_note_on_its_losses(qtbot, user_data, answers, domain_folder, tiny_finetune_base, tmp_path):
    from core.io.checkpoint import save_checkpoint

    bare = tmp_path / "bare.safetensors"
    save_checkpoint(bare, {"invertfill": load_checkpoint(tiny_finetune_base).part("invertfill")}, stage="encoder")
    wizard = FinetuneWizard(bare, "cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    scan(wizard, qtbot, domain_folder)
    wizard.next()
    assert next_enabled(wizard) and "bare.safetensors has no discriminator" in wizard.task_page.base_note.text()
    assert "without the perceptual and style losses" in wizard.task_page.base_note.text()


def test_a_quick_run_produces_a_checkpoint_that_loads_in_the_app(open_main_window, tiny_finetune_base, domain_folder, qtbot, tmp_path, user_data):
    window = open_main_window(tiny_finetune_base)
    window.finetune_action.trigger()
    wizard = window.finetune_wizard
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    go_to_training(wizard, qtbot, domain_folder, tmp_path / "models", steps=30, screenshots=tmp_path)
    page = wizard.training_page
    qtbot.waitUntil(lambda: page.outcome is not None or page.log.isVisibleTo(wizard), timeout=240000)
    timer.stop()
    assert page.outcome is not None, page.log.toPlainText()
    assert not page.outcome["cancelled"] and len(page.plot.points) >= 2 and page.preview.pixmap() is not None
    assert len(ticks) > 20 and max(np.diff(ticks)) < 1.0
    screenshot(wizard, "wizard_4_training", tmp_path)
    wizard.next()
    screenshot(wizard, "wizard_5_finish", tmp_path)
    finish = wizard.finish_page
    assert all(not label.pixmap().isNull() for label in finish.images.values()) and set(finish.images) >= {"before", "after", "difference"}
    assert finish.summary.text().startswith("Trained on 7 photos, 120 training samples (17 passes); saved as ")
    assert "grey levels on average in the hole" in finish.change.text()
    runs = list((user_data / "runs").iterdir())
    assert len(runs) == 1 and not list((runs[0] / "checkpoints").iterdir())
    with qtbot.waitSignal(window.engine.model_loaded, timeout=30000):
        wizard.accept()
    checkpoint = tmp_path / "models" / "my-photos.safetensors"
    tuned, base = load_checkpoint(checkpoint), load_checkpoint(tiny_finetune_base)
    assert tuned.domain == "my-photos" and tuned.stage == "finetune"
    after, before = tuned.part("invertfill"), base.part("invertfill")
    assert all(torch.equal(a, b) for a, b in zip(parameters(after.generator), parameters(before.generator)))
    assert not all(torch.equal(a, b) for a, b in zip(parameters(after.encoder), parameters(before.encoder)))
    assert window.model_label.text() == "Model: my-photos · 32 px · my-photos"
    assert checkpoint.resolve() in [p.resolve() for p in window.user_model_paths()]


def test_the_one_cancel_stops_the_process_within_seconds_and_leaves_a_loadable_checkpoint(wizard, domain_folder, qtbot, answers, tmp_path):
    go_to_training(wizard, qtbot, domain_folder, tmp_path / "models", steps=100000)
    page = wizard.training_page
    qtbot.waitUntil(lambda: len(page.plot.points) >= 1, timeout=120000)
    cancels = [b for b in wizard.findChildren(QAbstractButton) if b.isVisible() and "cancel" in b.text().lower()]
    assert cancels == [wizard.button(QWizard.WizardButton.CancelButton)]
    started = time.monotonic()
    qtbot.mouseClick(cancels[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.process.running, timeout=30000)
    assert time.monotonic() - started < 10 and answers.asked_stop_training == 1 and wizard.isVisible()
    checkpoint = tmp_path / "models" / "my-photos.safetensors"
    assert page.outcome is not None and page.outcome["cancelled"] and "last checkpoint was kept" in page.status.text()
    assert load_checkpoint(checkpoint).part("invertfill") is not None
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["my-photos.safetensors"]
    assert next_enabled(wizard)
    wizard.next()
    assert "Cancelled early" in wizard.finish_page.summary.text()


def test_a_crash_of_the_training_process_is_reported_with_its_last_lines_and_leaves_no_run_folder(
    wizard, domain_folder, qtbot, answers, tmp_path, monkeypatch, user_data
):
    make_job = wizard.make_job

    def broken_job() -> FinetuneJob:
        settings = make_job().to_dict()
        settings["lr"] = "fast"
        return FinetuneJob(**settings)

    monkeypatch.setattr(wizard, "make_job", broken_job)
    go_to_training(wizard, qtbot, domain_folder, tmp_path / "models", steps=10)
    page = wizard.training_page
    qtbot.waitUntil(lambda: page.log.isVisibleTo(wizard), timeout=120000)
    assert answers.errors and answers.errors[0][0] == "Fine-tune failed" and "exit status 1" in answers.errors[0][1]
    assert "TypeError" in page.log.toPlainText() and page.outcome is None and not next_enabled(wizard)
    assert not page.run_dir.exists() and not list((user_data / "runs").iterdir())


def test_closing_the_app_during_training_asks_then_stops_it_and_keeps_the_last_checkpoint(
    open_main_window, tiny_finetune_base, domain_folder, qtbot, answers, tmp_path
):
    window = open_main_window(tiny_finetune_base)
    window.finetune_action.trigger()
    wizard = window.finetune_wizard
    go_to_training(wizard, qtbot, domain_folder, tmp_path / "models", steps=100000)
    page = wizard.training_page
    qtbot.waitUntil(lambda: len(page.plot.points) >= 1, timeout=120000)
    answers.stop_training = False
    window.close()
    assert answers.asked_stop_training == 1 and window.isVisible() and wizard.training
    answers.stop_training = True
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
    assert answers.asked_stop_training == 2 and not wizard.training and page.outcome["cancelled"]
    assert load_checkpoint(tmp_path / "models" / "my-photos.safetensors").part("invertfill") is not None


def test_without_a_model_the_task_page_says_what_is_missing_and_how_to_get_one(qtbot, user_data, answers, domain_folder, tiny_finetune_base, tmp_path):
    wizard = FinetuneWizard(None, "cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    scan(wizard, qtbot, domain_folder)
    wizard.next()
    note = wizard.task_page.base_note.text()
    assert not next_enabled(wizard) and "No model to start from" in note
    assert "Load checkpoint" in note and "invertfill train-encoder" in note and "training.md" in note
    from core.io.checkpoint import save_checkpoint
    from core.nn.generator import Generator

    gan = load_checkpoint(tiny_finetune_base).part("invertfill").generator
    save_checkpoint(tmp_path / "gan.safetensors", {"generator": Generator(gan.config)}, stage="stylegan2")
    wizard.task_page.base_model.setText(str(tmp_path / "gan.safetensors"))
    note = wizard.task_page.base_note.text()
    assert not next_enabled(wizard) and "gan.safetensors holds generator, not a complete InvertFill model" in note
    assert "invertfill train-encoder --gan gan.safetensors" in note
    wizard.task_page.base_model.setText(str(tiny_finetune_base))
    assert next_enabled(wizard) and wizard.task_page.base_note.text() == ""


DEMO = resource_path("models", "faces64-demo.safetensors")


@pytest.mark.skipif(not DEMO.is_file(), reason="the faces demo model is not shipped")
def test_the_demo_model_fine_tunes_through_the_wizard_in_a_fresh_home_without_a_torch_cache(
    qtbot, user_data, answers, tmp_path, monkeypatch
):
    """Issue 30's first-time user: a new home folder, no torch hub cache, twelve photos, the Quick preset (its steps
    capped here to keep the suite short; the full Quick run is in docs/reproduction.md)."""
    from tests.gui_helpers import write_photo

    for variable in ("HOME", "TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "home" / variable.lower()))
    photos = tmp_path / "twelve faces"
    photos.mkdir()
    for index in range(12):
        write_photo(photos / f"face{index:02d}.png", 96, 96, seed=index)
    wizard = FinetuneWizard(DEMO, "cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    scan(wizard, qtbot, photos)
    wizard.next()
    assert next_enabled(wizard) and "no discriminator" not in wizard.task_page.base_note.text()
    wizard.next()
    settings = wizard.settings_page
    settings.preset.setCurrentIndex(settings.preset.findData("quick"))
    settings.output_folder.setText(str(tmp_path / "models"))
    qtbot.waitUntil(settings.isComplete, timeout=120000)
    assert settings.estimate.text().startswith("About ") and settings.batch.value() == PRESETS["quick"].batch
    settings.advanced_toggle.setChecked(True)
    settings.steps.setValue(min(settings.steps.value(), 8))
    wizard.next()
    page = wizard.training_page
    qtbot.waitUntil(lambda: page.outcome is not None or page.log.isVisibleTo(wizard), timeout=300000)
    assert page.outcome is not None, page.log.toPlainText()
    wizard.next()
    steps = settings.steps.value()
    assert wizard.finish_page.summary.text().startswith(f"Trained on 11 photos, {4 * steps} training samples (")
    tuned = load_checkpoint(tmp_path / "models" / "twelve-faces.safetensors")
    assert set(tuned.parts) == {"invertfill", "discriminator"} and tuned.card == load_checkpoint(DEMO).card
    assert not (tmp_path / "home" / "torch_home").exists()
