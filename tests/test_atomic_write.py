"""Atomic writes keep ordinary permissions and leave nothing behind on failure."""

import os
import stat

import pytest

from core.io.atomic_write import UMASK, atomic_write


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    with atomic_write(tmp_path / "new.txt") as tmp:
        tmp.write_text("hello")
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o666 & ~UMASK
    assert (tmp_path / "new.txt").read_text() == "hello"


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "old.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "new"


def test_a_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("stop")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
