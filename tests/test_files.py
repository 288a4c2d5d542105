"""Atomic directory replacement: the target holds the old or the new version at every moment."""

import shutil

import pytest

import vesselnet.core.files as files_module
from vesselnet.core.files import atomic_directory, exchange_paths, replace_directory


def _folder(path, text):
    path.mkdir()
    (path / "card.json").write_text(text)
    return path


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    first, second = _folder(tmp_path / "a", "old"), _folder(tmp_path / "b", "new")
    if not exchange_paths(first, second):
        pytest.skip("this system cannot swap paths (renameat2 RENAME_EXCHANGE)")
    assert (first / "card.json").read_text() == "new"
    assert (second / "card.json").read_text() == "old"
    with pytest.raises(OSError, match="missing"):
        exchange_paths(tmp_path / "missing", second)


@pytest.mark.parametrize("can_swap", [True, False])
def test_replace_directory_replaces_and_leaves_no_temporary(tmp_path, monkeypatch, can_swap):
    if not can_swap:
        monkeypatch.setattr(files_module, "exchange_paths", lambda first, second: False)
    target = _folder(tmp_path / "best", "old")
    replace_directory(_folder(tmp_path / ".tmp-best-1", "new"), target)
    assert (target / "card.json").read_text() == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["best"]
    replace_directory(_folder(tmp_path / ".tmp-other-1", "first"), tmp_path / "other")
    assert (tmp_path / "other" / "card.json").read_text() == "first"


def test_a_kill_after_the_swap_leaves_the_new_version_in_place(tmp_path, monkeypatch):
    target = _folder(tmp_path / "best", "old")
    if not exchange_paths(_folder(tmp_path / "probe-a", "a"), _folder(tmp_path / "probe-b", "b")):
        pytest.skip("this system cannot swap paths (renameat2 RENAME_EXCHANGE)")

    def killed(path, ignore_errors=False):
        raise KeyboardInterrupt("kill")

    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target) as folder:
            (folder / "card.json").write_text("new")
            monkeypatch.setattr(shutil, "rmtree", killed)  # the kill comes after the swap
    monkeypatch.undo()
    assert (target / "card.json").read_text() == "new"
    stale = [path for path in tmp_path.iterdir() if path.name.startswith(".tmp-best")]
    assert len(stale) == 1 and (stale[0] / "card.json").read_text() == "old"
