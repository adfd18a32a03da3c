"""Files the user names are described by what they are: missing, a folder, a pipe, a device, a broken link."""

from __future__ import annotations

import os

import pytest

from minim.filekinds import not_a_regular_file


def test_each_kind_is_named(tmp_path):
    regular = tmp_path / "a.pth"
    regular.write_bytes(b"x")
    fifo = tmp_path / "pipe.pth"
    os.mkfifo(fifo)
    to_zero = tmp_path / "zero.pth"
    to_zero.symlink_to("/dev/zero")
    broken = tmp_path / "broken.pth"
    broken.symlink_to(tmp_path / "gone.pth")
    folder = tmp_path / "folder.pth"
    folder.mkdir()
    assert not_a_regular_file(regular) is None
    assert not_a_regular_file(tmp_path / "nope.pth") == "does not exist"
    assert not_a_regular_file(folder) == "is a folder, not a file"
    assert not_a_regular_file(fifo) == "is a named pipe (FIFO), not a file"
    assert not_a_regular_file(to_zero) == "is a character device (a link to /dev/zero), not a file"
    assert not_a_regular_file(broken).startswith("is a broken link to ")


def test_checkpoint_reader_refuses_them_without_reading(tmp_path):
    from minim.cls.checkpoint import read_checkpoint
    from minim.errors import CheckpointError

    fifo = tmp_path / "pipe.pth"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(CheckpointError, match="named pipe"):
        read_checkpoint(fifo)
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path / "run")


def test_checkpoint_option_hint_points_into_a_folder_and_never_at_itself(tmp_path):
    from minim.cls.plan.checkpoints import _checkpoint_hint

    run = tmp_path / "work_dirs" / "cfg"
    run.mkdir(parents=True)
    (run / "latest.pth").write_bytes(b"x")
    assert _checkpoint_hint(run) == f"give a file in it: {run / 'latest.pth'}"
    folder = tmp_path / "model.pth"
    folder.mkdir()
    assert "model.pth" not in _checkpoint_hint(folder).replace(str(tmp_path), "")
