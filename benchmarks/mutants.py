#!/usr/bin/env python3
"""
A small mutation-testing run over netlab's pure modules (every family's
parsers and cores: the HTTP request parser, planner, negotiation and path
resolution, the HTTP response parser, the echo's impairment model and
abuse limits, the pinger's statistics, the heartbeat format, detector and
monitor, the SMTP dialogue, replies and sink session), outside the normal
suite because it is slow.

Each mutant changes one thing in one module: a comparison flipped
(== / !=, < / <=, > / >=, in / not in, is / is not), and / or swapped, a
``not`` dropped, an integer constant off by one, a ``return True/False``
inverted, a ``raise`` or a ``return`` of a value replaced by ``pass``.
The package and the tests are copied to a temporary folder, the mutant is
written there, and the module's own tests run (``trial --exitfirst``); a
mutant that leaves them green "survives" and is printed.

Usage: .venv/bin/python benchmarks/mutants.py [--per-module N] [MODULE...]
(default 25 mutants per module, spread evenly over the file; about a
minute per 10 mutants on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Iterator, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

#: Module -> the test modules that must kill its mutants.
TARGETS = {
    "twisted_netlab/web/_server_core.py": ["tests.web.test_server_core"],
    "twisted_netlab/web/_plan.py": ["tests.web.test_plan", "tests.web.test_server"],
    "twisted_netlab/web/_negotiation.py": ["tests.web.test_negotiation", "tests.web.test_plan"],
    "twisted_netlab/web/_files.py": ["tests.web.test_files", "tests.web.test_server"],
    "twisted_netlab/web/_listing.py": ["tests.web.test_listing"],
    "twisted_netlab/web/_accesslog.py": ["tests.web.test_accesslog"],
    "twisted_netlab/web/_client_core.py": ["tests.web.test_client_core"],
    "twisted_netlab/ping/_echo_core.py": ["tests.ping.test_echo_core", "tests.ping.test_echo"],
    "twisted_netlab/ping/_pinger_core.py": ["tests.ping.test_pinger_core", "tests.ping.test_pinger"],
    "twisted_netlab/ping/_probe.py": ["tests.ping.test_probe"],
    "twisted_netlab/heartbeat/_beat.py": ["tests.heartbeat.test_beat"],
    "twisted_netlab/heartbeat/_phi.py": ["tests.heartbeat.test_phi"],
    "twisted_netlab/heartbeat/_monitor_core.py": ["tests.heartbeat.test_monitor_core"],
    "twisted_netlab/mail/_client_core.py": ["tests.mail.test_client_core", "tests.mail.test_client"],
    "twisted_netlab/mail/_replies.py": ["tests.mail.test_replies"],
    "twisted_netlab/mail/_sink_core.py": ["tests.mail.test_sink_core"],
}

_FLIPS = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


def _docstring_nodes(tree: ast.AST) -> set:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def mutants(source: str) -> Iterator[Tuple[int, str, str]]:
    """
    (line, description, mutated source) for every mutation point.
    """
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    points: List[Tuple[int, int, str]] = []
    for index, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIPS:
            points.append((node.lineno, index, f"{type(node.ops[0]).__name__} flipped"))
        elif isinstance(node, ast.BoolOp):
            points.append((node.lineno, index, "and/or swapped"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node.lineno, index, "not dropped"))
        elif (isinstance(node, ast.Constant) and type(node.value) is int and id(node) not in docstrings):
            points.append((node.lineno, index, f"{node.value} -> {node.value + 1}"))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, bool):
            points.append((node.lineno, index, "return bool inverted"))
        elif isinstance(node, ast.Raise):
            points.append((node.lineno, index, "raise removed"))
    for line, target, description in points:
        tree = ast.parse(source)
        for index, node in enumerate(ast.walk(tree)):
            if index == target:
                node.mutate = True  # type: ignore[attr-defined]
                break
        tree = _Mutator().visit(tree)
        yield line, description, ast.unparse(ast.fix_missing_locations(tree))


class _Mutator(ast.NodeTransformer):
    """
    Apply the one mutation marked on a node.
    """

    def visit(self, node: ast.AST) -> ast.AST:
        node = self.generic_visit(node)
        if not getattr(node, "mutate", False):
            return node
        if isinstance(node, ast.Compare):
            node.ops[0] = _FLIPS[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            node.value = node.value + 1
        elif isinstance(node, ast.Return):
            node.value = ast.Constant(not node.value.value)  # type: ignore[union-attr]
        elif isinstance(node, ast.Raise):
            return ast.Pass()
        return node


def spread(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-module", type=int, default=25)
    parser.add_argument("modules", nargs="*")
    arguments = parser.parse_args()
    modules = arguments.modules or list(TARGETS)
    work = tempfile.mkdtemp(prefix="netlab-mutants-")
    try:
        for folder in ("twisted_netlab", "tests", "twisted"):
            shutil.copytree(os.path.join(REPO, folder), os.path.join(work, folder))
        env = dict(os.environ, PYTHONPATH=work)
        trial = [sys.executable, "-m", "twisted.trial", "--exitfirst"]
        total_killed = total = 0
        started = time.monotonic()
        for module in modules:
            path = os.path.join(work, module)
            original = open(path).read()
            chosen = spread(list(mutants(original)), arguments.per_module)
            killed = 0
            survivors = []
            for line, description, mutated in chosen:
                with open(path, "w") as f:
                    f.write(mutated)
                try:
                    result = subprocess.run(trial + TARGETS[module], cwd=work, env=env, capture_output=True,
                                            text=True, timeout=600)
                    dead = result.returncode != 0
                except subprocess.TimeoutExpired:
                    dead = True  # a mutant that hangs the tests is caught by them too
                killed += dead
                if not dead:
                    survivors.append(f"    {module}:{line}: {description}")
            with open(path, "w") as f:
                f.write(original)
            total += len(chosen)
            total_killed += killed
            print(f"{module}: {killed}/{len(chosen)} killed", flush=True)
            for survivor in survivors:
                print(survivor, flush=True)
        score = 100.0 * total_killed / total if total else 0.0
        print(f"total: {total_killed}/{total} killed ({score:.0f} %) in {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
