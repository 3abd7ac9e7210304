"""zoo.common.files: the one safe folder publish (training runs, exports, Triton repositories)."""

import os

import pytest

from zoo.common import files


def _folder(path, text):
    path.mkdir()
    (path / "model.txt").write_text(text)
    return path


def test_publish_folder_replaces_the_old_one_only_once_the_new_one_is_in_place(tmp_path, monkeypatch):
    out = tmp_path / "run"
    files.publish_folder(_folder(tmp_path / "first", "1"), out)
    assert (out / "model.txt").read_text() == "1"
    files.publish_folder(_folder(tmp_path / "second", "2"), out)
    assert (out / "model.txt").read_text() == "2"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # nothing left aside

    real_replace = os.replace

    def failing(source, target):
        if str(source).endswith("third"):
            raise OSError("disk gone")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk gone"):
        files.publish_folder(_folder(tmp_path / "third", "3"), out)
    assert (out / "model.txt").read_text() == "2"  # the old folder is put back
    assert not any(path.name.startswith(".run.old") for path in tmp_path.iterdir())
