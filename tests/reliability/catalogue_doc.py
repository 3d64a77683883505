"""Regenerate the bad-input table in docs/reliability.md from CASES, each surface's result taken from a real run.

    .venv/bin/python tests/reliability/catalogue_doc.py

runs `pytest tests/reliability/test_catalogue.py` with a JUnit report, then rewrites the table between the
`<!-- catalogue:start -->` and `<!-- catalogue:end -->` markers. `test_the_doc_lists_every_case` fails while the
doc and CASES disagree, so a case added to the table without regenerating the doc is caught.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _catalogue() -> ModuleType:
    spec = importlib.util.spec_from_file_location('reliability_catalogue', HERE / 'test_catalogue.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _results(report: Path) -> dict[tuple[str, str], str]:
    """(surface, case id) -> pass / fail / skipped, from pytest's JUnit XML."""
    out = {}
    for case in ET.parse(report).iter('testcase'):
        found = re.fullmatch(r'test_(cli|api|ui)\[(.+)\]', case.get('name', ''))
        if not found:
            continue
        if case.find('failure') is not None or case.find('error') is not None:
            out[(found[1], found[2])] = 'fail'
        else:
            out[(found[1], found[2])] = 'skipped' if case.find('skipped') is not None else 'pass'
    return out


def main() -> int:
    """Run the catalogue, write the table, say how it went."""
    catalogue = _catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / 'catalogue.xml'
        pytest = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', str(HERE / 'test_catalogue.py')]
        subprocess.run(
            [*pytest, '-k', 'test_cli or test_api or test_ui', f'--junitxml={report}'], cwd=ROOT, check=False
        )
        results = _results(report)
    doc = catalogue.DOC.read_text(encoding='utf-8')
    head, rest = doc.split(catalogue.DOC_START, 1)
    tail = rest.split(catalogue.DOC_END, 1)[1]
    table = catalogue.render_table(results)
    catalogue.DOC.write_text(f'{head}{catalogue.DOC_START}\n{table}\n{catalogue.DOC_END}{tail}', encoding='utf-8')
    tries = len(results)
    passed = sum(1 for r in results.values() if r == 'pass')
    print(f'{len(catalogue.CASES)} cases, {tries} surface tries, {passed} passed -> {catalogue.DOC}')
    return 0 if passed == tries else 1


if __name__ == '__main__':
    raise SystemExit(main())
