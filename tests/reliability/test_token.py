"""The access token: at least 16 characters, and it can be given where `ps` does not show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from nanogpt_lab import cli


@pytest.mark.parametrize('token', ['a', 'x' * 15])
def test_a_short_token_is_refused_in_one_line(token: str, capsys: Any) -> None:
    assert cli.main(['serve', '--host', '0.0.0.0', '--no-browser', '--token', token]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'at least 16 characters' in err[0], err


@pytest.mark.parametrize('how', ['file', 'environment'])
def test_a_token_from_a_file_or_the_environment_guards_the_lab_and_stays_out_of_ps(
    tmp_path: Path, labs: Any, how: str
) -> None:
    token = 'kept-out-of-ps-0123456789'
    lab = labs(tmp_path / 'home', host='0.0.0.0', env={'NANOGPT_LAB_TOKEN': token} if how == 'environment' else {})
    args = []
    if how == 'file':
        (tmp_path / 'token').write_text(token + '\n')
        args = ['--token-file', str(tmp_path / 'token')]
    lab.start(*args)
    assert lab.call('GET', '/api/jobs').status_code == 401
    assert lab.call('GET', '/api/jobs', headers={'Authorization': f'Bearer {token}'}).status_code == 200
    shown = ' '.join(
        ' '.join(p.cmdline()) for p in [psutil.Process(lab.proc.pid), *psutil.Process(lab.proc.pid).children()]
    )
    assert token not in shown
