"""Discovery (issue 12): symlink loops, the same file by two paths, and files that cannot be read."""

from __future__ import annotations

import os

import pytest

from curate.errors import InputError
from curate.io import discover as discover_module
from curate.io.discover import discover
from tests.conftest import write_jsonl


def tree_with_a_symlink_loop(root, loops: int = 1):
    write_jsonl(root / "data" / "sub" / "a.jsonl", [{"text": "only once"}])
    for k in range(loops):
        os.symlink("..", root / "data" / "sub" / f"up{k}")  # data/sub/up0/sub/up0/... forever
    return root / "data"


def test_a_recursive_glob_over_a_symlink_loop_finds_each_file_once(tmp_path):
    data = tree_with_a_symlink_loop(tmp_path)
    files = discover([str(data / "**" / "*.jsonl")])
    assert [f.source for f in files] == ["a.jsonl"]


def test_two_symlink_loops_do_not_explode(tmp_path):  # glob would walk 2**40 paths
    data = tree_with_a_symlink_loop(tmp_path, loops=2)
    assert [f.source for f in discover([str(data / "**" / "*.jsonl")])] == ["a.jsonl"]
    assert [f.source for f in discover([str(data)])] == ["a.jsonl"]


def test_the_same_file_by_two_paths_is_read_once(tmp_path):
    write_jsonl(tmp_path / "d" / "a.jsonl", [{"text": "once"}])
    os.symlink("a.jsonl", tmp_path / "d" / "b.jsonl")
    os.symlink(tmp_path / "d", tmp_path / "alias")
    specs = [
        tmp_path / "d",
        tmp_path / "d" / "b.jsonl",
        tmp_path / "alias" / "*.jsonl",
        tmp_path / "d/./a.jsonl",
    ]
    files = discover([str(s) for s in specs])
    assert len(files) == 1 and files[0].path == str(tmp_path / "d" / "a.jsonl")


def test_a_recursive_glob_keeps_globs_meaning(tmp_path):
    for name in ["a.jsonl", "x/b.jsonl", "x/y/c.jsonl", "x/.hidden/d.jsonl", "x/.e.jsonl", "x/y/f.txt"]:
        write_jsonl(tmp_path / "t" / name, [{"text": name}])
    write_jsonl(tmp_path / "elsewhere" / "g.jsonl", [{"text": "g"}])
    os.symlink(tmp_path / "elsewhere", tmp_path / "t" / "linked")  # followed, as glob does
    found = {f.source for f in discover([str(tmp_path / "t" / "**" / "*.jsonl")])}
    assert found == {"a.jsonl", "x/b.jsonl", "x/y/c.jsonl", "linked/g.jsonl"}
    found = {f.source for f in discover([str(tmp_path / "t" / "**" / "y" / "*")])}
    assert found == {"c.jsonl", "f.txt"}
    found = {f.source for f in discover([str(tmp_path / "t" / "x" / "**")])}
    assert found == {"b.jsonl", "y/c.jsonl", "y/f.txt"}


@pytest.mark.parametrize("kind", ["dangling", "self_loop"])
def test_a_file_that_cannot_be_opened_is_a_user_error_naming_it(tmp_path, kind):
    write_jsonl(tmp_path / "d" / "good.jsonl", [{"text": "fine"}])
    bad = tmp_path / "d" / "bad.jsonl"
    os.symlink(tmp_path / "nowhere.jsonl" if kind == "dangling" else bad, bad)
    for spec in (tmp_path / "d", bad):
        with pytest.raises(InputError, match=r"cannot read input file '.*bad\.jsonl'"):
            discover([str(spec)])


def test_a_file_without_read_permission_is_a_user_error_naming_it(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "locked.jsonl", [{"text": "secret"}])
    real_open = open

    def no_permission(name, *args, **kwargs):  # as root, chmod 000 does not stop a read
        if str(name) == str(path):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(discover_module, "open", no_permission, raising=False)
    with pytest.raises(InputError, match=r"cannot read input file '.*locked\.jsonl' \(Permission denied\)"):
        discover([str(path)])


def test_a_folder_named_like_a_file_is_a_folder(tmp_path):
    write_jsonl(tmp_path / "x.jsonl" / "inner.jsonl", [{"text": "inside"}])
    (tmp_path / "empty.jsonl").mkdir()
    assert [f.source for f in discover([str(tmp_path / "x.jsonl")])] == ["inner.jsonl"]
    assert [f.source for f in discover([str(tmp_path / "*" / "*.jsonl")])] == ["inner.jsonl"]
    with pytest.raises(InputError, match="no input files found"):
        discover([str(tmp_path / "empty.jsonl")])
