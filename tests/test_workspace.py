"""workspace.py and fileio.py: where things live, the one place a user-given name becomes a path, atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from nanogpt_lab import workspace
from nanogpt_lab.errors import LabError
from nanogpt_lab.fileio import atomic_open, atomic_write_text, remove_stale_temp_files, sha256_of


def test_the_workspace_follows_its_environment_variable(workspace_home: Path, tmp_path: Path) -> None:
    assert workspace.home() == workspace_home.resolve()
    assert workspace.runs_root() == workspace_home.resolve() / 'runs'
    assert workspace.data_root() == workspace_home.resolve() / 'data'
    assert workspace.data_root(str(tmp_path / 'mine')) == (tmp_path / 'mine').resolve()
    assert re.fullmatch(r'sft-\d{8}-\d{6}-[0-9a-f]{4}', workspace.new_run_id('sft'))


@pytest.mark.parametrize('name', ['..', '../x', 'a/b', '/etc', '', '.hidden', 'x' * 101, 'a..b', 'nul\x00'])
def test_names_that_could_leave_the_workspace_are_refused(name: str) -> None:
    with pytest.raises(LabError) as e:
        workspace.inside(workspace.runs_root(), name)
    assert e.value.code == 'workspace.bad_name'


def test_safe_names_stay_inside_and_uploads_are_sanitised() -> None:
    assert workspace.inside(workspace.runs_root(), 'train-1') == workspace.runs_root() / 'train-1'
    assert workspace.sanitize_name('../../My Notes (v2).txt') == 'My_Notes_v2'
    assert workspace.sanitize_name('...') == 'dataset'
    # a Hugging Face dataset's name has no extension: its dots stay (llama3.1, not llama3)
    name = 'HuggingFaceTB/everyday-conversations-llama3.1-2k'
    assert workspace.sanitize_name(name, is_file=False) == 'everyday-conversations-llama3.1-2k'


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    path = tmp_path / 'ckpt.pt'
    atomic_write_text(path, 'old')
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write(b'half of the new')
        raise RuntimeError('killed mid-write')
    assert path.read_text() == 'old' and list(tmp_path.iterdir()) == [path]
    with pytest.raises(FileExistsError), atomic_open(path, mode=0o600, replace=False) as f:  # only a new file
        assert os.fstat(f.fileno()).st_mode & 0o777 == 0o600  # private from its first byte (a secret)
        f.write(b'new')
    assert path.read_text() == 'old' and list(tmp_path.iterdir()) == [path]


def test_stale_temp_files_of_a_killed_writer_are_removed_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / 'ckpt.pt'
    stale = tmp_path / '.ckpt.pt.abcd_123.tmp'
    stale.write_bytes(b'x')
    keep = tmp_path / '.ckpt.pt.notes'
    keep.write_bytes(b'y')
    assert remove_stale_temp_files(path) == [stale] and keep.exists()


def test_sha256_of_a_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # more than one block
    (tmp_path / 'f').write_bytes(data)
    assert sha256_of(tmp_path / 'f') == hashlib.sha256(data).hexdigest()
