"""An import-linter contract type that forbids import cycles between modules (`lint-imports` loads it).

import-linter's own `acyclic_siblings` compares packages; this one follows every module-to-module import grimp finds
(function-level and TYPE_CHECKING imports too), so two modules that import each other, however indirectly and in
whatever packages, break it. A package importing its own submodules (re-exports in `__init__`) is not a cycle.
"""

from __future__ import annotations

from typing import Any

from importlinter import Contract, ContractCheck, fields, output


class NoModuleCyclesContract(Contract):
    """No module of `containers` reaches itself again through the imports between those modules."""

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        modules = {m for c in self.containers for m in (c, *graph.find_descendants(c))}
        edges = {
            m: sorted(n for n in graph.find_modules_directly_imported_by(m) if _counts(m, n, modules)) for m in modules
        }
        cycles = [c for c in strongly_connected(edges) if len(c) > 1]
        examples = [_one_cycle(c, edges, graph) for c in cycles]
        return ContractCheck(kept=not cycles, metadata={'cycles': examples})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for lines in check.metadata['cycles']:
            output.print_error('An import cycle:', bold=True)
            for line in lines:
                output.indent_cursor()
                output.print_error(line, bold=False)
            output.new_line()


def _counts(importer: str, imported: str, modules: set[str]) -> bool:
    return imported in modules and not imported.startswith(importer + '.')


def strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit on a long import chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        x = stack.pop()
                        on_stack.discard(x)
                        component.append(x)
                        if x == v:
                            break
                    found.append(sorted(component))
            elif w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on_stack.add(w)
                work.append((w, iter(edges[w])))
            elif w in on_stack:
                low[v] = min(low[v], index[w])
    return found


def _one_cycle(component: list[str], edges: dict[str, list[str]], graph: Any) -> list[str]:
    """One concrete loop through the component, each step with the line that imports."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = next(n for n in edges[path[-1]] if n in members)
        if nxt in seen:
            path = path[path.index(nxt) :] + [nxt]
            break
        path.append(nxt)
        seen.add(nxt)
    lines = []
    for a, b in zip(path, path[1:], strict=False):
        details = graph.get_import_details(importer=a, imported=b)
        where = f' (l. {details[0]["line_number"]})' if details else ''
        lines.append(f'{a} -> {b}{where}')
    return lines
