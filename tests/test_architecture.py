"""The import graph of synthscene/ is a DAG: each stage depends on the ones below it, never back
(docs/ARCHITECTURE.md). Imports inside functions count too: a cycle hidden in a function is
still a cycle, just one that fails later. Imports under `if TYPE_CHECKING:` are left out: they
are never executed, they only name types. Importing `a.b.c` runs the `__init__` of `a.b` too, so
those edges count. The folders follow the flow (FLOW): none imports one later in it, and no module
loads another by a computed name (`__import__`, `importlib.import_module`), which no graph sees."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "synthscene"


def module_name(path: Path, root: Path = PKG) -> str:
    parts = ["synthscene", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node of `tree` except the bodies of `if TYPE_CHECKING:`."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def import_graph(root: Path = PKG) -> dict[str, set[str]]:
    """module → the synthscene modules it imports (a package import counts as its __init__)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from . import x` imports module x if there is one, else a name of the package
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in files else prefix for a in node.names]
            for name in targets:
                while name and name not in files:  # `import a.b.c` of a name: its longest module prefix
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    graph[mod].add(name)
                    # importing a.b.c runs the packages a.b's and a's __init__ first (those of
                    # the importing module's own packages are already running: no edge)
                    own = {".".join(mod.split(".")[:k]) for k in range(1, mod.count(".") + 2)}
                    parts = name.split(".")
                    for k in range(1, len(parts)):
                        pkg = ".".join(parts[:k])
                        if pkg in files and pkg not in own and pkg != mod:
                            graph[mod].add(pkg)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_import_graph_is_a_dag():
    graph = import_graph()
    assert len(graph) > 40 and "synthscene.generation.pipeline" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_planted_cycle(tmp_path):
    pkg = tmp_path / "synthscene"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import synthscene.d\nimport synthscene.a\n")
    (pkg / "d.py").write_text("from . import c\n")
    cycle = find_cycle(import_graph(pkg))
    assert cycle and set(cycle) == {"synthscene.a", "synthscene.sub.b", "synthscene.c"}


#: The folders (and top-level modules) of synthscene/ in the order of the flow: each may import only
#: those before it. "synthscene" is the package's own __init__ (the Python API), "cli" the command.
FLOW = ["core", "geometry", "renderers", "assets", "randomizers", "config", "scenes", "labels", "generation",
        "realdata", "train", "diagnosis", "benchmark", "commands", "synthscene", "cli"]


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_folders_follow_the_flow():
    graph = import_graph()
    folders = {folder(m) for m in graph}
    assert folders == set(FLOW), f"folders not placed in FLOW: {sorted(folders ^ set(FLOW))}"
    back = sorted(f"{m} -> {n}" for m, targets in graph.items() for n in targets
                  if FLOW.index(folder(n)) > FLOW.index(folder(m)))
    assert not back, "imports against the flow:\n" + "\n".join(back)


def test_no_folder_level_cycle():
    graph = import_graph()
    folders: dict[str, set[str]] = {}
    for m, targets in graph.items():
        folders.setdefault(folder(m), set()).update(folder(n) for n in targets if folder(n) != folder(m))
    for targets in list(folders.values()):
        for n in targets:
            folders.setdefault(n, set())
    cycle = find_cycle(folders)
    assert cycle is None, "folder cycle: " + " -> ".join(cycle)


#: computed imports allowed, and why: the module and the call's first argument as written
COMPUTED_IMPORTS = {("synthscene.cli", "name")}  # click's exceptions, where Typer vendors them


def computed_imports(root: Path = PKG) -> set[tuple[str, str]]:
    found = set()
    for path in sorted(root.rglob("*.py")):
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in ("__import__", "import_module"):
                    found.add((module_name(path, root), ast.unparse(node.args[0]) if node.args else ""))
    return found


def test_no_computed_imports():
    extra = computed_imports() - COMPUTED_IMPORTS
    assert not extra, f"modules loaded by a computed name (import them plainly): {sorted(extra)}"


def test_checks_see_init_edges_and_computed_imports(tmp_path):
    pkg = tmp_path / "synthscene"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .. import a\n")
    (pkg / "sub" / "b.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub.b import x\n    __import__('synthscene.c')\n")
    graph = import_graph(pkg)
    assert "synthscene.sub" in graph["synthscene.a"]
    assert set(find_cycle(graph)) == {"synthscene.a", "synthscene.sub"}
    assert computed_imports(pkg) == {("synthscene.a", "'synthscene.c'")}
