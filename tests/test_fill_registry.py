"""The fill-method registry: the classic fills (Telea, Navier–Stokes, PatchMatch when installed)
reach the Inpainter, `invertfill fill --method`, `invertfill eval --baseline` and the Model menu."""

import numpy as np
import pytest

from app.cli import main
from core.engine import fill_registry
from core.engine.choices import CLASSIC_NAMES
from core.engine.fill_registry import available_classic_fills, classic_fill
from core.engine.inpainter import Inpainter
from core.errors import InvertFillError
from core.io.image_io import Picture, read_image, write_image
from tests.gui_helpers import wait_idle

pytest.importorskip("patchmatch", reason="PatchMatch needs the optional pypatchmatch wheel (requirements-dev.txt has it)")


def checkerboard(size: int = 48, cell: int = 4) -> np.ndarray:
    """(size, size, 3) uint8: red and blue cells of `cell` pixels."""
    y, x = np.indices((size, size)) // cell
    red = (y + x) % 2 == 0
    return np.where(red[..., None], np.uint8([200, 30, 30]), np.uint8([30, 30, 200])).astype(np.uint8)


def square_hole(size: int = 48) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[16:32, 16:32] = True
    return hole


def test_patchmatch_copies_texture_into_the_hole_where_diffusion_blends_it():
    image, hole = checkerboard(), square_hole()
    results = {key: Inpainter(method=key, device="cpu").fill(Picture(image), hole, seed=3).pictures[0].pixels for key in ("patchmatch", "telea")}
    for filled in results.values():
        assert np.array_equal(filled[~hole], image[~hole])

    def share_near_a_cell_colour(filled: np.ndarray) -> float:
        """The share of hole pixels within 40 levels (every channel) of red or blue."""
        inside = filled[hole].astype(int)
        distance = np.minimum(np.abs(inside - [200, 30, 30]).max(axis=1), np.abs(inside - [30, 30, 200]).max(axis=1))
        return float(np.mean(distance <= 40))

    assert share_near_a_cell_colour(results["patchmatch"]) > 0.8
    assert share_near_a_cell_colour(results["telea"]) < 0.3


def test_patchmatch_gives_the_same_fill_for_the_same_seed():
    rng = np.random.default_rng(0)
    image, hole = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), square_hole()
    inpainter = Inpainter(method="patchmatch", device="cpu")
    first, again = (inpainter.fill(Picture(image), hole, seed=7).pictures[0].pixels for _ in range(2))
    assert np.array_equal(first, again)
    assert inpainter.is_classic and not inpainter.model_missing and inpainter.description == "PatchMatch fill (pypatchmatch)"


def test_the_registry_lists_patchmatch_only_where_it_can_run(monkeypatch):
    assert [(m.key, m.name) for m in fill_registry.CLASSIC_FILLS.values()] == list(CLASSIC_NAMES.items()), "the command line offers these"
    assert [m.key for m in available_classic_fills()] == ["telea", "ns", "patchmatch"]
    monkeypatch.setattr(fill_registry, "CLASSIC_FILLS", {**fill_registry.CLASSIC_FILLS, "patchmatch": fill_registry.ClassicMethod(
        "patchmatch", "PatchMatch", lambda: None, lambda: False, "pip install pypatchmatch")})
    assert [m.key for m in available_classic_fills()] == ["telea", "ns"]
    with pytest.raises(InvertFillError, match="the PatchMatch fill is not installed; add it with `pip install pypatchmatch`"):
        classic_fill("patchmatch")
    with pytest.raises(InvertFillError, match="unknown fill method 'lama'; use invertfill, telea, ns, patchmatch"):
        classic_fill("lama")


def test_the_command_line_fills_with_a_classic_method_and_evaluates_patchmatch_beside_telea_and_ns(tmp_path, capsys):
    write_image(tmp_path / "board.png", Picture(checkerboard()))
    write_image(tmp_path / "hole.png", Picture((square_hole()[..., None] * 255).astype(np.uint8)))
    assert main(["fill", str(tmp_path / "board.png"), str(tmp_path / "hole.png"), "-o", str(tmp_path / "out.png"), "--method", "patchmatch", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "with PatchMatch fill (pypatchmatch)" in printed and "seed" not in printed, "a classic fill has no seed to report"
    assert read_image(tmp_path / "out.png").pixels.shape == (48, 48, 3)
    for i in range(3):
        write_image(tmp_path / "images" / f"img{i}.png", Picture(np.roll(checkerboard(32), i, axis=1)))
    main(["make-masks", "--bucket", "hard", "--n", "3", "--res", "32", "--seed", "0", "-o", str(tmp_path / "hard")])
    code = main(["eval", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "hard"), "--baseline", "telea",
                 "--baseline", "ns", "--baseline", "patchmatch", "--res", "32", "--device", "cpu", "-o", str(tmp_path / "report")])
    assert code == 0
    rows = [line for line in (tmp_path / "report" / "report.md").read_text().splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| Telea", "| Navier–Stokes", "| PatchMatch"]


@pytest.mark.usefixtures("no_default_model")
def test_the_model_menu_offers_the_classic_fills_and_remembers_the_choice(open_main_window, qtbot):
    window = open_main_window()
    window.model_menu.aboutToShow.emit()
    classic = {a.text(): a for a in window.model_menu.actions() if a.text().startswith("Classic: ")}
    assert list(classic) == ["Classic: Telea", "Classic: Navier–Stokes", "Classic: PatchMatch"]
    assert window.model_label.text() == "Classic OpenCV fill (no model found)"
    assert [text for text, a in classic.items() if a.isChecked()] == ["Classic: Telea"]
    classic["Classic: PatchMatch"].trigger()
    wait_idle(qtbot, window)
    assert window.model_label.text() == "Classic fill: PatchMatch (no model)"
    assert window.engine.inpainter.method_key == "patchmatch" and not window.variations_action.isEnabled()
    window.model_menu.aboutToShow.emit()
    assert [a.text() for a in window.model_menu.actions() if a.isChecked()] == ["Classic: PatchMatch"]
    window.close()
    assert open_main_window().model_label.text() == "Classic fill: PatchMatch (no model)"


def test_a_classic_fill_with_a_model_is_refused_in_one_line(tmp_path, capsys):
    write_image(tmp_path / "board.png", Picture(checkerboard()))
    write_image(tmp_path / "hole.png", Picture((square_hole()[..., None] * 255).astype(np.uint8)))
    code = main(["fill", str(tmp_path / "board.png"), str(tmp_path / "hole.png"), "-o", str(tmp_path / "out.png"),
                 "--method", "telea", "--model", str(tmp_path / "model.safetensors")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == "invertfill: error: the Telea fill uses no model; leave out the checkpoint (model.safetensors)"
    assert not (tmp_path / "out.png").exists()
