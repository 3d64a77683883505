"""The package map holds: no import names a private (`_x`) name of another package (the import-linter contracts,
run by `make test` as `lint-imports`, check the layers and cycles)."""

from __future__ import annotations

import re

import grimp

PRIVATE = re.compile(r'\bimport\b.*(?<![\w.])_[a-z]\w*')


def _package(module: str) -> str:
    return '.'.join(module.split('.')[:2])


def test_no_package_imports_another_packages_private_names() -> None:
    graph = grimp.build_graph('nanogpt_lab', cache_dir=None)
    found = []
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if _package(importer) == _package(imported):
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                if PRIVATE.search(detail['line_contents'].split('#', 1)[0]):
                    found.append(f'{importer}:{detail["line_number"]} {detail["line_contents"]}')
    assert not found, found
