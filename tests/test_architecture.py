"""The package's two layers, checked on the source: data flow one way, modules stay small.

``lmmedu.stats`` is generic statistics and ``lmmedu.data`` the simulators and data sets; the
notebook layer ``lmmedu.teach`` sits on top. Nothing lower imports anything higher, nothing
lower imports a plotting, widget or progress library, and ``stats`` does not depend on
``data``. No two modules import each other, directly or round a circle, and no ``_private``
name is imported from another package (``stats``, ``data``, ``teach.<one of its parts>``). Imports are read with :mod:`ast` (every ``import`` statement anywhere in a module,
including inside functions), so the test cannot be fooled by what happens to be loaded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lmmedu"

#: Libraries of the notebook layer only.
NOTEBOOK_LIBRARIES = ("matplotlib", "seaborn", "ipywidgets", "IPython", "tqdm")

#: Modules allowed above the line count, and why (one concept that needs the room).
LONG_MODULES = {
    "stats/engine.py": "LmmProblem: the profiled deviance in its two layouts (one dense factor for small models, "
                        "blocked for large and crossed ones), internal scaling, conditional modes",
    "stats/formula.py": "the one tokenizer of lme4 formulas: parsing, Q() names and the model frame with its checks",
}
MAX_LINES = 600


def _modules(layer):
    return sorted((PACKAGE / layer).rglob("*.py"))


def _import_nodes(path):
    """(node, resolved module) for every import statement in ``path``; the module of ``from . import x`` is the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, None
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(list(package[: len(package) - node.level + 1]) + ([module] if module else []))
            yield node, module


def _imports(path):
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    names = []
    for node, module in _import_nodes(path):
        if module is None:
            names.extend(alias.name for alias in node.names)
        elif node.level and not node.module:
            # "from . import studies" imports the submodule lmmedu.teach.studies
            names.extend(f"{module}.{a.name}" for a in node.names)
        else:
            names.append(module)
    return names


def _top(name):
    return name.split(".")[0]


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package by its dotted name.
MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _as_module(name):
    """The module ``name`` refers to: ``lmmedu.teach.studies.run_study`` is in ``lmmedu.teach.studies``."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imported_names(path):
    """(module, name) for every ``from module import name`` in ``path``, relative modules resolved."""
    return [(module, alias.name) for node, module in _import_nodes(path) if module is not None
            for alias in node.names]


def _room(module):
    """The package a module belongs to: ``stats``, ``data``, ``teach.studies``, ``teach.prose``..."""
    parts = module.split(".")[1:]
    if not parts:
        return "lmmedu"
    if parts[0] == "teach" and len(parts) > 1:
        return "teach." + parts[1]
    return parts[0]


def _import_graph():
    graph = {}
    for module, path in MODULES.items():
        targets = {_as_module(name) for name in _imports(path) if name.startswith("lmmedu")}
        graph[module] = sorted(target for target in targets if target and target != module)
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("layer", ["stats", "data"])
def test_lower_layers_never_import_the_notebook_layer_or_its_libraries(layer):
    offences = []
    for path in _modules(layer):
        for name in _imports(path):
            if name.startswith("lmmedu.teach") or _top(name) in NOTEBOOK_LIBRARIES:
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offences, "\n".join(offences)


def test_statistics_do_not_depend_on_the_data_layer():
    offences = [f"{path.relative_to(PACKAGE)} imports {name}"
                for path in _modules("stats") for name in _imports(path) if name.startswith("lmmedu.data")]
    assert not offences, "\n".join(offences)


def test_the_import_reader_sees_relative_and_nested_imports(tmp_path):
    # The checks above are only as good as _imports: make sure it resolves what the package uses.
    names = [name for probe in _modules("teach/widgets") for name in _imports(probe)]
    assert "lmmedu.teach.studies" in names  # from .. import studies
    assert "lmmedu.data.checks" in names  # from ...data.checks import ...
    assert "ipywidgets" in names
    assert any(n.startswith("matplotlib") for n in names)  # imported inside a function


def test_no_import_circle_among_the_modules():
    # Function-level imports count too: an import hidden in a function to dodge a circle is still one.
    cycles = _cycles(_import_graph())
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_no_private_name_crosses_a_package():
    offences = []
    for module, path in MODULES.items():
        for source, name in _imported_names(path):
            if (source.startswith("lmmedu") and name.startswith("_") and not name.startswith("__")
                    and _room(_as_module(source)) != _room(module)):
                offences.append(f"{module} imports {name} from {source}")
    assert not offences, "make these names public where they live:\n" + "\n".join(offences)


def test_modules_stay_small_unless_listed_with_a_reason():
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        key = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and key not in LONG_MODULES:
            too_long.append(f"{key}: {lines} lines")
    assert not too_long, ("split these modules or list them in LONG_MODULES with a reason:\n"
                          + "\n".join(too_long))
    for key in LONG_MODULES:
        assert (PACKAGE / key).exists(), f"LONG_MODULES lists {key}, which no longer exists"
        lines = len((PACKAGE / key).read_text(encoding="utf-8").splitlines())
        assert lines > MAX_LINES, f"LONG_MODULES lists {key}, which has only {lines} lines now: drop it"


def test_progress_is_resolved_in_one_place():
    # The contract in lmmedu.teach: one helper (studies.progress_callback) knows tqdm.
    users = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                   if any(_top(name) == "tqdm" for name in _imports(path)))
    assert users == ["teach/studies/runner.py"]


def test_every_app_is_built_on_the_one_pattern():
    import inspect

    from lmmedu.teach import widgets

    apps = [obj for name, obj in vars(widgets).items()
            if inspect.isclass(obj) and obj.__module__.startswith(widgets.__name__ + ".") and name != "App"
            and hasattr(obj, "_ipython_display_")]
    assert apps, "no apps found"
    for app in apps:
        assert issubclass(app, widgets.App), f"{app.__name__} does not subclass App"
        for method in ("update", "show"):
            assert getattr(app, method) is not getattr(widgets.App, method), f"{app.__name__}.{method} missing"


#: What a widget module may import from below the notebook layer: argument checks of its own
#: controls, and reading the file a learner picks (notebook 10's upload control; input, not analysis). Everything else a widget shows is computed by lmmedu.teach.studies / comparison /
#: cells / prose (which may use lmmedu.stats and lmmedu.data) and tested there.
WIDGET_MAY_IMPORT = ("lmmedu.data.checks", "lmmedu.data.read")

#: Libraries that compute statistics; a widget that needs one is doing a study's work.
STATISTICS_LIBRARIES = ("scipy", "statsmodels", "patsy", "sklearn")

#: Public functions a widget module may define itself, and why they are not computation.
WIDGET_FUNCTIONS = {
    "environment_report": "notebook 00's table of installed versions: reads package metadata, no statistics",
    "rates_for_display": "renames a rates table's columns and formats percentages for a notebook: display only",
}

def _widget_modules():
    return [p for p in _modules("teach/widgets") if p.name not in ("__init__.py", "app.py")]


def _widget_offences(path):
    """Why ``path`` computes: imports from stats/data (beyond checks) or statistics libraries, own public functions."""
    offences = [f"imports {name}" for name in _imports(path)
                if (name.startswith(("lmmedu.stats", "lmmedu.data")) and not name.startswith(WIDGET_MAY_IMPORT))
                or _top(name) in STATISTICS_LIBRARIES]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offences += [f"defines function {node.name}()" for node in tree.body
                 if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
                 and node.name not in WIDGET_FUNCTIONS]
    return offences


def test_widgets_do_not_compute():
    # The contract in lmmedu.teach: a widget holds controls, calls one compute function of
    # studies/comparison/cells/prose and displays. A widget that imports the statistics or the
    # simulators, or defines a public function of its own, is computing where no unit test looks.
    offences = [f"teach/widgets/{path.name} {why}" for path in _widget_modules() for why in _widget_offences(path)]
    assert not offences, ("move the computation to lmmedu.teach.studies or .comparison (re-export the name here "
                          "if notebooks import it from widgets):\n" + "\n".join(offences))


def test_the_widget_rule_catches_a_computing_widget(monkeypatch):
    fake = PACKAGE / "teach" / "widgets" / "pvalues.py"
    source = "from ...stats.fit import fit\nfrom scipy import stats\n\ndef preview(n):\n    return n\n"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert _widget_offences(fake) == ["imports lmmedu.stats.fit", "imports scipy", "defines function preview()"]
