"""The layering, enforced both ways: what the engine may import, and what the app may import of it.

    app  ->  orca_engine.session  ->  stages  ->  models, alignment, data, projection  ->  config, events, errors

Engine half: no UI stack at import time, a torch-free config, no import circles among engine
modules. App half: the app reaches the engine through one door (ALLOWED); today's other imports
are listed in KNOWN_EXCEPTIONS, to be removed by the one-door refactor, and no new ones may appear.
Import-time checks run in a fresh interpreter, so what other tests imported cannot hide a leak.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "orca_engine"

# -- the app's door -------------------------------------------------------------------------------
# Engine modules any app module may import.
ALLOWED = {
    "orca_engine",          # the package root: re-exports RunConfig and the error types only
    "orca_engine.session",  # start/continue runs, read events, pause/resume/cancel, predict
    "orca_engine.config",   # RunConfig, and the options the widgets are built from
    "orca_engine.errors",   # typed errors, turned into messages in one place
    "orca_engine.shared_runs",  # the Session's sharing layer: cached replays, watching an identical run
    "orca_engine.lessons",  # recorded runs shipped in assets/lessons (events only, no model)
}

# App module -> engine modules it imports today outside the door. Each entry is debt for the
# one-door refactor (issue 11): route it through `orca_engine.session`, then delete it here.
KNOWN_EXCEPTIONS: dict[str, list[str]] = {
    "app.compare_view": ["orca_engine.compare"],           # comparison_table, summarise_runs
    "app.handlers": ["orca_engine.data",                   # inspect_file, load_dataset, encode_inputs
                     "orca_engine.data.examples",          # EXAMPLES (is a source a bundled example?)
                     "orca_engine.runs"],                  # load_events (replay a file)
    "app.live": ["orca_engine.projection",                 # is_umap_ready
                 "orca_engine.runs"],                      # load_events
    "app.messages": ["orca_engine.projection"],            # METHOD_NOTES, UMAP warm-up and state
    "app.tabs.backbone": ["orca_engine.backbones"],        # BACKBONES, backbone_status
    "app.tabs.data": ["orca_engine.data.examples"],        # EXAMPLES
    "app.ui": ["orca_engine.projection"],                  # warm_up_umap_in_background
}

UI_STACK = ("gradio", "plotly", "matplotlib")
HEAVY = ("torch", "transformers", "umap")


def run_fresh(code: str) -> str:
    """stdout of `code` run by a fresh interpreter in the project root."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# -- import-time checks, in a fresh interpreter ---------------------------------------------------

def test_no_engine_module_imports_the_ui_stack_at_import_time():
    code = ("import sys, pkgutil, importlib, orca_engine\n"
            "for m in pkgutil.walk_packages(orca_engine.__path__, 'orca_engine.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            f"print(','.join(sorted(n for n in sys.modules if n.split('.')[0] in {UI_STACK!r})))\n")
    imported = run_fresh(code)
    assert imported == "", (f"engine modules imported the UI stack at import time: {imported} "
                            "(matplotlib for compare plots: import it inside the plotting function)")


def test_import_orca_engine_is_light():
    code = f"import sys, orca_engine; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    assert run_fresh(code) == "", "import orca_engine must not import torch, transformers or umap eagerly"


def test_config_validation_does_not_import_torch():
    """Choices (backbones, objectives, source proxies) come from torch-free registries."""
    code = ("import sys\n"
            "from orca_engine.config import RunConfig, allowed_choices, iter_options\n"
            "RunConfig()\n"
            "RunConfig.from_dict({'model': {'backbone': 'tiny-bert'}, 'align': {'objective': 'mmd'}})\n"
            "[allowed_choices(f) for _, f, _ in iter_options()]\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    assert run_fresh(code) == "", "validating a RunConfig imported a heavy library"


# -- no import circles among engine modules -------------------------------------------------------

def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
           (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: not inside functions, not under TYPE_CHECKING."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            found += [n for child in node.orelse for n in module_level_imports(ast.Module([child], []))]
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        else:
            found += module_level_imports(node)
    return found


def all_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, lazy ones inside functions included."""
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def imported_modules(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool,
                     known: set[str]) -> set[str]:
    """The modules of `known` an import statement in module `importer` brings in.

    `from pkg import name` means `pkg.name` when that is a module, else `pkg` itself.
    """
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {t for t in targets if t in known}


def engine_import_graph() -> dict[str, set[str]]:
    """Module -> engine modules it imports at module level, for every module of orca_engine."""
    files = {module_name(p): p for p in ENGINE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {t for node in module_level_imports(tree)
                       for t in imported_modules(node, name, is_package, set(files))} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None when it is acyclic (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_engine_modules_import_each_other_without_circles():
    graph = engine_import_graph()
    assert len(graph) > 40 and graph["orca_engine.bodies"] >= {"orca_engine.backbones"}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle among engine modules: " + " -> ".join(cycle)


def test_backbone_records_and_objective_names_stay_below_their_torch_modules():
    graph = engine_import_graph()
    assert "orca_engine.bodies" not in graph["orca_engine.backbones"]
    assert not graph["orca_engine.alignment.names"] & {"orca_engine.alignment.base",
                                                      "orca_engine.alignment.otdd",
                                                      "orca_engine.alignment.kernels"}


def test_the_graph_builder_sees_a_circle_and_skips_lazy_and_type_checking_imports():
    source = ("from typing import TYPE_CHECKING\n"
              "from . import b\n"
              "if TYPE_CHECKING:\n    from . import c\n"
              "def f():\n    from . import d\n")
    nodes = module_level_imports(ast.parse(source))
    known = {"p.a", "p.b", "p.c", "p.d"}
    assert {t for n in nodes for t in imported_modules(n, "p.a", False, known)} == {"p.b"}
    assert find_cycle({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}) == ["p.a", "p.b", "p.c", "p.a"]
    assert find_cycle({"p.a": {"p.b", "p.c"}, "p.b": {"p.c"}, "p.c": set()}) is None


# -- the app's door -------------------------------------------------------------------------------

def app_engine_imports() -> dict[str, set[str]]:
    """App module -> engine modules it imports anywhere (lazy imports inside functions count)."""
    engine = {module_name(p) for p in ENGINE.rglob("*.py")}
    files = [ROOT / "app.py", *sorted((ROOT / "app").rglob("*.py"))]
    found = {}
    for path in files:
        name = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        found[name] = {t for node in all_imports(tree)
                       for t in imported_modules(node, name, path.name == "__init__.py", engine)}
    return found


def test_app_reaches_the_engine_only_through_its_door_or_a_known_exception():
    new = {app: sorted(used - ALLOWED - set(KNOWN_EXCEPTIONS.get(app, ())))
           for app, used in app_engine_imports().items()}
    new = {app: mods for app, mods in new.items() if mods}
    assert not new, (f"app modules import engine modules outside the door {sorted(ALLOWED)}: {new}; "
                     "go through orca_engine.session (or add a narrow door to ALLOWED, with a reason)")


def test_known_exceptions_are_still_needed():
    """A refactored import must leave the list too, so KNOWN_EXCEPTIONS stays the true debt."""
    used = app_engine_imports()
    stale = {app: sorted(set(mods) - used.get(app, set())) for app, mods in KNOWN_EXCEPTIONS.items()}
    stale = {app: mods for app, mods in stale.items() if mods}
    assert not stale, f"no longer imported by the app: delete from KNOWN_EXCEPTIONS {stale}"


@pytest.mark.parametrize("module", sorted(KNOWN_EXCEPTIONS))
def test_known_exceptions_name_real_modules(module):
    engine = {module_name(p) for p in ENGINE.rglob("*.py")}
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file()
    assert set(KNOWN_EXCEPTIONS[module]) <= engine
