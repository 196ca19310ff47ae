"""The one atomic-write helper: a finished file is the old one or the new one, never half."""

import pytest

from histalk_bench.common.atomic import atomic_path, commit_file, temporary_name, write_text_atomic


def test_write_text_atomic_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "scores.json"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["scores.json"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as temporary:
            temporary.write_text("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and not temporary_name(target).exists()


def test_commit_file_moves_a_finished_temporary(tmp_path):
    temporary = tmp_path / "pred.h5.tmp"
    temporary.write_bytes(b"\x89HDF")
    assert commit_file(temporary, tmp_path / "pred.h5").read_bytes() == b"\x89HDF"
    assert not temporary.exists()
