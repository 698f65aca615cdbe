"""Tag the cells that app mode (Voila) leaves out: exercises, solutions, instructor notes.

Usage (from the repository root; re-run after notebooks change or branches are merged)::

    python scripts/tag_app_cells.py                 # every notebooks/NN_*.ipynb
    python scripts/tag_app_cells.py notebooks/05_*.ipynb
    python scripts/tag_app_cells.py --check         # exit 1 if a notebook's tags are not current

Voila shows a notebook's outputs and markdown without its code. ``voila.json`` (read by the
``voila`` command and, on Binder, by the server; see the README) configures nbconvert's
``TagRemovePreprocessor`` to drop every cell tagged ``app-hide`` before the notebook runs.
A dropped cell is not executed, so a code cell is tagged only when no later cell that stays
needs a name it defines. Tagged, by rule only (the script edits nothing but the tag):

- markdown cells tagged ``solution`` or ``instructor``, exercise headings (``### Exercise``)
  and predict prompts (``**Predict``): they ask the learner to type code, which an app
  cannot;
- code cells tagged ``solution``, cells that only assign the learner's guesses (``my_... =``),
  cells with a placeholder for the learner's code (a name set to ``...``, such as ``L_B = ...``)
  and cells that use such a guess or placeholder name, when nothing that stays uses what they
  define. A cell that checks a guess therefore says its "write your answer into ``my_x`` and run
  again" in a cell of its own, apart from what the page shows in app mode too.

In app mode nothing can be typed, so no check runs against an empty guess: a predict-then-check
keeps its question (when it is lesson prose) and its answer, and the verdict ("you predicted ...,
it went ...", or one sentence saying no prediction was entered) sits in a cell of its own that
only reads the guess, so this script hides it with the guess. :func:`checks_kept` lists the cells
that break this (a check kept because a later cell needs a name it defines); the script names
them, and tests/test_app_mode.py fails on them: split the verdict off into its own cell.

Everything else stays, and the tag is removed from cells that no longer match (so the
script is idempotent and can be run after every merge).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TAG = "app-hide"
_MARKDOWN_PREFIXES = ("### Exercise", "**Predict")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _parse(source):
    # IPython magics and shell escapes are not Python.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _defined(tree):
    """Names a cell binds at any level (assignments, imports, defs, loop targets)."""
    names = set()
    # A comprehension's loop variable lives inside the comprehension only.
    local = {id(n) for c in ast.walk(tree) if isinstance(c, ast.comprehension) for n in ast.walk(c.target)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and id(node) not in local:
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _loaded(tree, source):
    if tree is None:  # unparsable: every identifier might be a use
        return set(_IDENTIFIER.findall(source))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _is_guess(tree):
    """Only assignments to ``my_...`` names (the learner's prediction)."""
    if tree is None or not tree.body:
        return False
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return False
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if not all(isinstance(t, ast.Name) and t.id.startswith("my_") for t in targets):
            return False
    return True


def _placeholders(tree):
    """Names a cell sets to ``...``: the learner's code goes there."""
    if tree is None:
        return set()
    return {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis
            for t in node.targets if isinstance(t, ast.Name)}


def _hidden_markdown(cell):
    tags = cell.metadata.get("tags", [])
    return "solution" in tags or "instructor" in tags or cell.source.lstrip().startswith(_MARKDOWN_PREFIXES)


def hidden_cells(nb):
    """Ids of the cells that app mode leaves out (see the module docstring for the rules).

    Parameters
    ----------
    nb : nbformat.NotebookNode

    Returns
    -------
    set of str

    Examples
    --------
    >>> from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell
    >>> nb = new_notebook(cells=[new_code_cell("x = 1", id="a"), new_code_cell("my_x = None", id="b"),
    ...                          new_code_cell("print(my_x == x)", id="c"), new_markdown_cell("### Exercise 1", id="d"),
    ...                          new_code_cell("print(x); L = ...", id="e"), new_code_cell("print(L)", id="f")])
    >>> sorted(hidden_cells(nb))
    ['b', 'c', 'd', 'e', 'f']
    """
    hidden, needed = set(), set()
    learner = set()  # names the learner fills in
    for cell in nb.cells:
        if cell.cell_type == "code":
            learner |= _placeholders(_parse(cell.source))
    for cell in reversed(nb.cells):
        if cell.cell_type == "markdown":
            if _hidden_markdown(cell):
                hidden.add(cell.id)
            continue
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        loads = _loaded(tree, cell.source)
        candidate = tree is not None and (
            "solution" in cell.metadata.get("tags", []) or _is_guess(tree) or _placeholders(tree)
            or any(n.startswith("my_") or n in learner for n in loads))
        if candidate and not (_defined(tree) & needed):
            hidden.add(cell.id)
        else:
            needed |= loads
    return hidden


def checks_kept(nb):
    """Ids of the code cells app mode keeps although they read a learner's guess or placeholder.

    Such a cell would run against the empty guess (``my_x = None``) on the app's page.

    Examples
    --------
    >>> from nbformat.v4 import new_notebook, new_code_cell
    >>> nb = new_notebook(cells=[new_code_cell("my_x = None", id="guess"),
    ...                          new_code_cell("x = 2\\nprint(x, my_x)", id="check"),
    ...                          new_code_cell("print(x)", id="later")])
    >>> checks_kept(nb)
    ['check']
    """
    hidden = hidden_cells(nb)
    learner = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            learner |= _placeholders(_parse(cell.source))
    return [cell.id for cell in nb.cells if cell.cell_type == "code" and cell.id not in hidden
            and any(n.startswith("my_") or n in learner for n in _loaded(_parse(cell.source), cell.source))]


def tag(nb):
    """Set the ``app-hide`` tag on exactly :func:`hidden_cells`; return True if anything changed."""
    hidden, changed = hidden_cells(nb), False
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        want = cell.id in hidden
        if want and TAG not in tags:
            tags.append(TAG)
        elif not want and TAG in tags:
            tags.remove(TAG)
        else:
            continue
        changed = True
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if tags are not current")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if tag(nb):
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
        print(f"{path.name}: {len(hidden_cells(nb))} cells hidden in app mode"
              + (" (tags updated)" if path in stale and not args.check else ""))
        kept = checks_kept(nb)
        if kept:
            print(f"  {path.name}: app mode keeps {', '.join(kept)}, which read a learner's guess (a later cell needs "
                  "a name they define): move the verdict into a cell of its own", file=sys.stderr)
    if args.check and stale:
        print("not current: " + ", ".join(p.name for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
