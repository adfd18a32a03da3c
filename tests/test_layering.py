"""Generic layers (config, index, net, launch, gridsearch, packages, env) never import the ``cls`` engine:
the codebase object hands them what they need."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

GENERIC = ["minim.config", "minim.index", "minim.net.download", "minim.launch.commands", "minim.gridsearch.search",
           "minim.gridsearch.summary", "minim.runlogs", "minim.packages.plan", "minim.env.probe", "minim.codebases",
           "minim.archive", "minim.dataset_download", "minim.dataset_layouts", "minim.index.datasets", "minim.userconf",
           "minim.plotting"]


@pytest.mark.parametrize("module", GENERIC)
def test_generic_module_imports_nothing_of_cls(module):
    code = (f"import sys, {module}\n"
            "bad = sorted(m for m in sys.modules if m.startswith('minim.cls'))\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_codebase_gives_gridsearch_its_metric_rules():
    from minim.codebases import Codebase, get_codebase

    cls = get_codebase("cls")
    assert cls.metrics_function("infer_rule")("accuracy_top-1") == "greater"
    assert "accuracy_top-1" in cls.metrics_function("metric_keys")("accuracy", None, 10)
    bare = Codebase(name="x", description="", index_file=lambda: None)
    assert bare.metrics_function("infer_rule") is None
    from minim.gridsearch.search import _infer_rule

    assert _infer_rule("val_loss", bare) == "less" and _infer_rule("mAP", bare) == "greater"


MINIM = Path(__file__).resolve().parent.parent / "minim"


def _layer(module: str) -> str:
    """The package a module belongs to for layering: ``minim.X``, or ``minim.cls.Y`` inside the engine."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[:2] == ["minim", "cls"] and len(parts) > 2 else parts[:2])


def _import_graph() -> dict[str, set[str]]:
    """Layer -> layers it imports, counting imports inside functions too."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in MINIM.rglob("*.py"):
        parts = path.relative_to(MINIM.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("minim"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("minim")]
            else:
                continue
            for target in targets:
                if _layer(target) != _layer(module):
                    graph[_layer(module)].add(_layer(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_among_packages_or_cls_sub_packages():
    graph = _import_graph()
    assert "minim.cls.models" in graph and "minim.cls.apis" in graph["minim.cls.analysis"]  # the graph is real
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


CLS = MINIM / "cls"
#: where imports inside functions belong (as ``minim/cls``-relative paths or folders): the thin command layer, the
#: codebase entry, the package entry and torch-free planning
BOUNDARY = ("commands/", "plan/", "codebase.py", "__init__.py")
#: optional third-party packages: imported where used, so that a missing one gives minim's error naming the extra
OPTIONAL_PACKAGES = {"onnx", "onnxruntime", "matplotlib", "sklearn", "albumentations", "wandb", "mlflow",
                     "tensorboard", "scipy"}


def _function_imports(source: str) -> list[tuple[ast.stmt, str]]:
    """``(import statement, its first source line)`` of each import inside a function of ``source``."""
    lines = source.splitlines()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, lines[child.lineno - 1]))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def _unexplained_lazy_imports(root: Path) -> list[str]:
    """Imports inside functions under ``root`` that are neither at the boundary, nor of an optional package, nor
    explained by a ``# lazy: <why>`` comment on their line."""
    unexplained = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in BOUNDARY or name.startswith(tuple(b for b in BOUNDARY if b.endswith("/"))):
            continue
        for node, line in _function_imports(path.read_text()):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if (module or "").split(".")[0] not in OPTIONAL_PACKAGES and "# lazy:" not in line:
                unexplained.append(f"{name}:{node.lineno}: {line.strip()}")
    return unexplained


def test_cls_imports_sit_at_the_top_unless_at_the_boundary_optional_or_explained():
    assert _unexplained_lazy_imports(CLS) == []


def test_the_lazy_import_check_flags_an_unexplained_import(tmp_path):
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / "cli.py").write_text("def f():\n    import torch\n")
    (tmp_path / "engine.py").write_text(
        "import os\n\n\ndef f():\n    import onnx\n    import torch  # lazy: torch; a torch-free path imports this\n\n\n"
        "class A:\n    def g(self):\n        if os.sep:\n            from minim.cls import models\n")
    assert _unexplained_lazy_imports(tmp_path) == ["engine.py:12: from minim.cls import models"]


def test_listing_the_cls_tools_imports_no_torch():
    """``minim run cls --list`` (and each tool's ``--help``) imports every tool module: they stay torch-free."""
    code = ("import sys\nfrom minim.codebases import get_codebase\ncls = get_codebase('cls')\n"
            "for name in cls.tools:\n    cls.load_tool(name)\n"
            "print(','.join(m for m in ('torch', 'torchvision') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
