"""The environment is locked in one place and what runs is what is locked.

scripts/pins.py holds the chosen versions and, with ``--lock``, writes every
resolved package into constraints.txt (pip: CI and the Makefile) and into the
pip section of environment.yml (Binder), which takes only Python and pip from
conda-forge. These tests fail when the two files drift apart or from the chosen
pins, when the running interpreter has a package that is not locked or has
another version than its pin, when code imports a package nobody declared, or
when nbmake would execute notebooks in a kernel from another environment.

Set LMMEDU_ALLOW_UNPINNED=1 only to try the package against other versions on
purpose: it turns the installed-version checks into skips.
"""

from __future__ import annotations

import ast
import concurrent.futures
import functools
import json
import importlib.metadata as metadata
import importlib.util
import os
import re
import stat
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = ROOT / "environment.yml"
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"


def _load_pins_module():
    spec = importlib.util.spec_from_file_location("_lmmedu_pins", ROOT / "scripts" / "pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load_pins_module()
ENV_TEXT = ENVIRONMENT.read_text(encoding="utf-8")
CONSTRAINTS_TEXT = CONSTRAINTS.read_text(encoding="utf-8")
ENV_PINS = pins.pins_from_environment(ENV_TEXT)
LAB_LOCK, TEST_LOCK = pins.read_lock(CONSTRAINTS_TEXT)
ALL_PINS = {**LAB_LOCK, **TEST_LOCK}


def _pyproject_requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    groups = {"dependencies": project.get("dependencies", [])}
    groups.update(project.get("optional-dependencies", {}))
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


PYPROJECT_REQS = _pyproject_requirements()
PYPROJECT_NAMES = {
    pins.normalize(req.name) for reqs in PYPROJECT_REQS.values() for req in reqs if pins.normalize(req.name) != "lmmedu"
}


# --- environment.yml <-> constraints.txt ------------------------------------


def test_constraints_txt_and_environment_yml_agree_with_the_chosen_pins():
    found = pins.problems(CONSTRAINTS_TEXT, ENV_TEXT)
    assert not found, "; ".join(found) + ". Run `python3 scripts/pins.py --lock` and commit both files."


def test_binder_installs_exactly_the_lab_packages_ci_installs():
    # The pip section of environment.yml is what Binder installs; constraints.txt is what CI installs.
    _, pip_specs = pins.read_dependencies(ENV_TEXT)
    from_environment = dict(spec.split("==") for spec in pip_specs)
    assert from_environment == {k: v for k, v in LAB_LOCK.items() if k != "pip"}
    assert ENV_PINS["pip"] == LAB_LOCK["pip"] == pins.PIP


def test_pins_parser_reads_environment_yml_like_yaml_does():
    # scripts/pins.py parses YAML by hand so it runs before any venv exists;
    # check it against a real YAML parser on the real file.
    data = yaml.safe_load(ENV_TEXT)
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    pip = [p for d in data["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    assert pins.read_dependencies(ENV_TEXT) == (conda, pip)


def test_pins_script_rejects_unpinned_specs_and_detects_drift(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="numpy"):
        pins.conda_to_pip("numpy>=2")
    with pytest.raises(ValueError, match="scipy"):
        pins.conda_to_pip("scipy=1.17")
    assert pins.conda_to_pip("pip==26.3") == ("pip", "26.3")

    lab = {"pip": pins.PIP, **{pins.normalize(k): v for k, v in pins.LAB_PINS.items()}, "tzdata": "2025.1"}
    test = {pins.normalize(k): v for k, v in pins.TEST_PINS.items()}
    env, out = tmp_path / "environment.yml", tmp_path / "constraints.txt"
    env.write_text(pins.render_environment(lab))
    out.write_text(pins.render_constraints(lab, test))
    monkeypatch.setattr(pins, "ENVIRONMENT", env)
    monkeypatch.setattr(pins, "CONSTRAINTS", out)
    assert pins.main(["--check"]) == 0
    # A transitive package moved in one file only: Binder and CI would install different wheels.
    env.write_text(env.read_text().replace("tzdata==2025.1", "tzdata==2025.2"))
    assert pins.main(["--check"]) == 1
    assert "environment.yml does not list exactly" in capsys.readouterr().err
    env.write_text(pins.render_environment(lab))
    # A chosen pin changed without re-locking.
    monkeypatch.setitem(pins.LAB_PINS, "numpy", "0.0.1")
    assert pins.main(["--check"]) == 1
    assert "numpy==0.0.1 in LAB_PINS" in capsys.readouterr().err


# --- what environment.yml must contain ---------------------------------------


def test_environment_yml_uses_conda_forge_only_and_python_311():
    data = yaml.safe_load(ENV_TEXT)
    assert data["channels"] == ["conda-forge"]
    conda, _ = pins.read_dependencies(ENV_TEXT)
    # Everything else comes from PyPI through pip, like in CI (conda-forge pins could not be checked here).
    assert conda == [f"python={pins.PYTHON}", f"pip=={pins.PIP}"]


@pytest.mark.parametrize(
    "name, major",
    [
        ("jupyterlab", 4),
        ("ipywidgets", 8),
        ("jupyterlab-widgets", 3),
        ("ipykernel", None),
        ("statsmodels", None),
        ("pandas", None),
        ("seaborn", None),
        ("numpy", None),
        ("scipy", None),
        ("matplotlib", None),
        ("patsy", None),
        ("tqdm", None),
    ],
)
def test_environment_yml_pins_the_teaching_stack(name, major):
    assert name in ENV_PINS, f"{name} is not pinned in environment.yml"
    if major is not None:
        assert Version(ENV_PINS[name]).major == major, f"{name} must be version {major}.x, not {ENV_PINS[name]}"


def test_every_pyproject_requirement_is_pinned_and_the_pin_fits_its_range():
    for group, reqs in PYPROJECT_REQS.items():
        for req in reqs:
            name = pins.normalize(req.name)
            if name == "lmmedu":
                continue
            assert name in ALL_PINS, f"pyproject {group} requirement {req} has no pin in constraints.txt"
            assert req.specifier.contains(ALL_PINS[name], prereleases=True), (
                f"pin {name}=={ALL_PINS[name]} is outside pyproject's range {req} ({group})"
            )


# --- the running environment is the pinned one -----------------------------


LOCK_PYTHONS = pins.read_pythons(CONSTRAINTS_TEXT)
THIS_PYTHON = "%d.%d" % sys.version_info[:2]


@pytest.mark.parametrize("name", sorted(ALL_PINS))
def test_installed_version_matches_pin(name):
    if os.environ.get("LMMEDU_ALLOW_UNPINNED") == "1":
        pytest.skip("LMMEDU_ALLOW_UNPINNED=1: running against versions other than the pins on purpose")
    if not pins.pinned_for(name, THIS_PYTHON, LOCK_PYTHONS):
        pytest.skip(f"{name} is needed, and locked, only on Python {', '.join(LOCK_PYTHONS[name])}")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{name} is pinned but not installed in {sys.prefix}; run `make test` to install from the pins")
    assert installed == ALL_PINS[name], (
        f"{name} {installed} is installed in {sys.prefix} but the pin is {ALL_PINS[name]}; "
        "run `make test` (it reinstalls from constraints.txt)"
    )


def test_every_installed_package_is_locked():
    # A package that is installed but not locked could differ between CI, Binder and a learner's machine.
    if os.environ.get("LMMEDU_ALLOW_UNPINNED") == "1":
        pytest.skip("LMMEDU_ALLOW_UNPINNED=1: running against versions other than the pins on purpose")
    unlocked = sorted(
        f"{pins.normalize(d.metadata['Name'])} {d.version}"
        for d in metadata.distributions()
        if pins.normalize(d.metadata["Name"]) not in ALL_PINS | {"lmmedu": "", "setuptools": "", "wheel": ""}
    )
    assert not unlocked, (
        f"installed in {sys.prefix} but not in constraints.txt: {', '.join(unlocked)}; add what lmmedu needs to "
        "LAB_PINS or TEST_PINS in scripts/pins.py and run `python3 scripts/pins.py --lock`, or remove the rest"
    )


def test_python_is_one_the_lock_is_resolved_for():
    assert THIS_PYTHON in pins.PYTHONS, f"Python {THIS_PYTHON} is not among the locked {pins.PYTHONS}"


def test_pyproject_requires_python_admits_every_locked_python_and_no_older():
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    allowed = SpecifierSet(project["requires-python"])
    oldest = pins.PYTHONS[0]
    assert all(allowed.contains(f"{version}.0") for version in pins.PYTHONS)
    major, minor = map(int, oldest.split("."))
    assert not allowed.contains(f"{major}.{minor - 1}.99"), f"requires-python admits Pythons older than {oldest}"


# --- installs on every supported Python ---------------------------------------


def _makefile_variable(name: str) -> str:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.search(rf"^{name} :?= *(.*)$", text, re.M).group(1).strip()


def test_makefile_accepts_exactly_the_locked_pythons():
    assert tuple(_makefile_variable("PYTHONS_SUPPORTED").split()) == pins.PYTHONS


def test_make_refuses_an_unsupported_python_in_one_sentence(tmp_path):
    # A stand-in for Python 3.10: this interpreter, reporting version 3.10.13 to the Makefile's check.
    fake = tmp_path / "python3.10"
    fake.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "import sys; sys.version_info = (3, 10, 13); '
                    'exec(sys.argv[1])" "$2"\n')
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), f"VENV={venv}", f"PYTHON={fake}",
                          f"{venv}/bin/python"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and not venv.exists()
    first = run.stderr.strip().splitlines()[0]
    assert first == (f"{fake} is Python 3.10, but the pinned packages are tested on Python 3.11, 3.12 and 3.13: "
                     "install one of those and run make with PYTHON=/path/to/python3.13")


INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


@functools.cache
def _index_files() -> tuple[dict[str, list[dict]], str | None]:
    """Every pinned package's files on the package index (PEP 691 JSON), and why not, if unreachable."""

    def files(name):
        request = urllib.request.Request(f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        for attempt in range(3):  # a lookup failing once (DNS, a reset) is not the index being away
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return name, json.load(response)["files"]
            except OSError:
                if attempt == 2:
                    raise
                time.sleep(2)

    try:
        urllib.request.urlopen(f"{INDEX}/pip/", timeout=10).close()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return dict(pool.map(files, sorted(ALL_PINS))), None
    except (OSError, ValueError) as error:
        return {}, f"{INDEX}: {error}"


@functools.cache
def _supported_tags(python_version: str) -> frozenset:
    from packaging import tags

    major, minor = map(int, python_version.split(".")[:2])
    platforms = list(tags.platform_tags())
    return frozenset({*tags.cpython_tags((major, minor), platforms=platforms),
                      *tags.compatible_tags((major, minor), f"cp{major}{minor}", platforms)})


def _wheels_for(name: str, python_version: str) -> list[str]:
    """The wheels of the pinned version of ``name`` that pip would take on ``python_version`` on this platform:
    a tag it supports (as pip's own list for that Python) and a Requires-Python that admits it."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import parse_wheel_filename

    supported = _supported_tags(python_version)
    found = []
    items = _index_files()[0][name]
    # Most projects list thousands of files: parse only those naming the pinned version.
    items = [item for item in items if f"-{ALL_PINS[name]}-" in item["filename"]] or items
    for item in items:
        if not item["filename"].endswith(".whl"):
            continue
        _, version, _, wheel_tags = parse_wheel_filename(item["filename"])
        try:
            admits = SpecifierSet(item.get("requires-python") or "").contains(python_version, prereleases=True)
        except InvalidSpecifier:  # e.g. "!=3.0*" of old releases: pip ignores it too
            admits = True
        if version == Version(ALL_PINS[name]) and wheel_tags & supported and admits:
            found.append(item["filename"])
    return found


# Debian 12's python3 and the first release of every supported minor version.
RESOLVE_FOR = ["3.11.2"] + [f"{version}.0" for version in pins.PYTHONS]


@pytest.mark.parametrize("python_version", RESOLVE_FOR)
def test_every_pinned_wheel_installs_on_each_supported_python(python_version):
    # soupsieve 4.1.3 (Requires-Python >= 3.11.5) was locked once and stopped `make lab` on Debian 12.
    # What pip checks before it installs a pin, asked of the index for each Python at once (pip's
    # own --dry-run --python-version downloads every wheel: 45 s per Python).
    files, why = _index_files()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must reach the package index to check the lock: {why}")
        pytest.skip(f"no package index reachable ({why}), so the lock cannot be checked for Python {python_version}")
    minor = ".".join(python_version.split(".")[:2])
    missing = [f"{name}=={ALL_PINS[name]}" for name in sorted(ALL_PINS)
               if pins.pinned_for(name, minor, LOCK_PYTHONS) and not _wheels_for(name, python_version)]
    assert not missing, (
        f"no wheel installs on Python {python_version} for {', '.join(missing)}: "
        "choose versions that do in scripts/pins.py and run `make pins`"
    )


def test_the_wheel_check_rejects_what_pip_rejects():
    # The pin that broke Debian 12 (Requires-Python >= 3.11.5) and a wheel for another Python only.
    files, why = _index_files()
    if why:
        pytest.skip(f"no package index reachable ({why})")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ALL_PINS, "soupsieve", "4.1.3")
        assert not _wheels_for("soupsieve", "3.11.2") and _wheels_for("soupsieve", "3.12.0")
    assert _wheels_for("numpy", "3.12.0") != _wheels_for("numpy", "3.13.0")


def test_python3_kernel_runs_in_this_environment():
    # nbmake starts the notebook's "python3" kernel through jupyter_client; a
    # kernelspec from another environment would test other package versions.
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        chunks = []

        def _collect(msg):
            if msg["msg_type"] == "stream":
                chunks.append(msg["content"]["text"])

        reply = kc.execute_interactive("import sys; print(sys.prefix)", output_hook=_collect, timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert Path("".join(chunks).strip()).resolve() == Path(sys.prefix).resolve()


# --- every third-party import is declared ------------------------------------

# Import names whose distribution has another name, for packages that may not
# be installed where this runs (installed ones are looked up in metadata).
_IMPORT_TO_DIST = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "IPython": "ipython",
    "PIL": "pillow",
    "mpl_toolkits": "matplotlib",
    "dateutil": "python-dateutil",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
}


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _notebook_source(path: Path) -> str:
    # Cells may hold IPython magics (%matplotlib, !pip): turn them into Python first.
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(path, as_version=4)
    transform = TransformerManager().transform_cell
    return "\n".join(transform(cell.source) for cell in nb.cells if cell.cell_type == "code")


@functools.cache
def _import_sources() -> dict[str, str]:
    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted((ROOT / "lmmedu").rglob("*.py"))}
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts:
            sources[str(path.relative_to(ROOT))] = _notebook_source(path)
    return sources


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(import_name: str) -> set[str]:
    found = _packages_distributions().get(import_name, [])
    dists = {pins.normalize(d) for d in found}
    if import_name in _IMPORT_TO_DIST:
        dists.add(pins.normalize(_IMPORT_TO_DIST[import_name]))
    if not dists:
        dists.add(pins.normalize(import_name))
    return dists


def test_top_level_imports_finds_third_party_names():
    src = "import numpy as np\nfrom scipy.stats import t\nfrom . import engine\nimport os.path\n"
    assert _top_level_imports(src) == {"numpy", "scipy", "os"}


@pytest.mark.parametrize("source_name", sorted(_import_sources()))
def test_imports_are_declared_in_environment_yml_and_pyproject(source_name):
    source = _import_sources()[source_name]
    third_party = {
        name
        for name in _top_level_imports(source)
        if name not in sys.stdlib_module_names and name not in {"lmmedu", "__future__"}
    }
    for name in sorted(third_party):
        dists = _distributions(name)
        assert dists & set(ENV_PINS), (
            f"{source_name} imports {name!r} (distribution {'/'.join(sorted(dists))}) "
            "which environment.yml does not pin; add it there and run `python3 scripts/pins.py`"
        )
        assert dists & PYPROJECT_NAMES, (
            f"{source_name} imports {name!r} (distribution {'/'.join(sorted(dists))}) "
            "which pyproject.toml does not list in dependencies or an extra"
        )


# --- Binder and CI entry points ----------------------------------------------


def _is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def test_postbuild_installs_lmmedu_without_dependencies():
    path = ROOT / "postBuild"
    text = path.read_text(encoding="utf-8")
    assert _is_executable(path), "postBuild must be executable for repo2docker to run it"
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    assert re.search(r"pip install .*--no-deps", text), "postBuild must not let pip change the conda pins"


def test_ci_script_runs_make_test():
    path = ROOT / ".ci" / "run"
    text = path.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    commands = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in commands
