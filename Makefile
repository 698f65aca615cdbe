# Two commands for a fresh Linux machine with Python 3.11, 3.12 or 3.13 and pip (no root):
#
#   make lab    create .venv, install lmmedu and the notebook stack pinned by
#               constraints.txt, open JupyterLab on the start notebook
#   make test   install the test tools into the same .venv, run tests/ and
#               execute every notebook in notebooks/ (nbmake)
#
# Without make, the same steps by hand are:
#   python3 -m venv .venv
#   .venv/bin/python -m pip install --upgrade -c constraints.txt pip
#   .venv/bin/python -m pip install -c constraints.txt -e ".[test]"
#   .venv/bin/python -m pytest tests lmmedu --doctest-modules --nbmake --nbmake-timeout=300 notebooks/*.ipynb
#   OPENBLAS_CORETYPE=Haswell .venv/bin/python -m pytest tests/test_engine.py tests/test_engine_edge.py tests/test_optimum.py tests/test_bad_inputs.py
#       (make test's second run, under another BLAS kernel: Sandybridge if the machine's own is Haswell)
#   .venv/bin/jupyter lab --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb
#   .venv/bin/voila notebooks/01_replicates_and_pseudoreplication.ipynb   (make app)
#
# Installs are remembered by stamp files inside .venv that depend on
# pyproject.toml and constraints.txt, so re-running only reinstalls after one
# of them changed. `make clean` removes .venv to start over.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
STAMP_LAB := $(VENV)/.lmmedu-lab.stamp
STAMP_TEST := $(VENV)/.lmmedu-test.stamp
START_NOTEBOOK ?= notebooks/00_start_here.ipynb
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
NBMAKE_TIMEOUT ?= 300
CHROMIUM ?= /usr/bin/chromium
export LMMEDU_CHROMIUM := $(CHROMIUM)
# Extra arguments, e.g. make lab LAB_ARGS="--no-browser --port 8899"
LAB_ARGS ?=
# e.g. make test PYTEST_ARGS="-x -k pins"
PYTEST_ARGS ?=

# No prompts and no nagging about pip's own version (CI has no stdin).
export PIP_NO_INPUT := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Kernels started by nbmake must be the ones installed in .venv.
export JUPYTER_PREFER_ENV_PATH := 1

.PHONY: lab app test install install-test chromium pins strip clean help

help:
	@echo "make lab    - install into $(VENV) and open JupyterLab on $(START_NOTEBOOK)"
	@echo "make test   - install test tools into $(VENV) and run tests + notebooks"
	@echo "make app NOTEBOOK=notebooks/01_....ipynb - show a notebook's widgets as a standalone app (Voila)"
	@echo "make pins   - re-lock constraints.txt and environment.yml from the pins in scripts/pins.py"
	@echo "make strip  - remove outputs from notebooks/*.ipynb before committing"
	@echo "make clean  - delete $(VENV)"

# Serve the whole repository (data/, README) but open on the start notebook;
# passing the notebook as an argument would make notebooks/ the root instead.
lab: install
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/$(START_NOTEBOOK) $(LAB_ARGS)

# App mode for a lecture: the notebook's output only (code hidden), served by Voila.
NOTEBOOK ?= notebooks/01_replicates_and_pseudoreplication.ipynb
APP_ARGS ?=
app: install
	$(VENV)/bin/voila "$(NOTEBOOK)" --strip_sources=True $(APP_ARGS)

# The engine and optimum tests run a second time under another OpenBLAS kernel than this
# machine's (Haswell, or Sandybridge where Haswell is the machine's own): each kernel rounds
# differently, and a result that depends on it (issue 19) fails here, not on a learner's CPU.
KERNEL_TESTS ?= tests/test_engine.py tests/test_engine_edge.py tests/test_optimum.py tests/test_bad_inputs.py
OTHER_KERNEL = $(VPY) -c 'import numpy; from threadpoolctl import threadpool_info; \
	own = {i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"}; \
	print("" if not own else "Sandybridge" if "Haswell" in own else "Haswell")'

test: install-test chromium
	$(VPY) -m pytest tests lmmedu --doctest-modules --nbmake --nbmake-timeout=$(NBMAKE_TIMEOUT) $(NOTEBOOKS) $(PYTEST_ARGS)
	@kernel=$$($(OTHER_KERNEL)); \
	if [ -z "$$kernel" ]; then echo "numpy does not use OpenBLAS here: no second run under another BLAS kernel"; \
	else echo "Engine and optimum tests again under OPENBLAS_CORETYPE=$$kernel (another BLAS kernel than this machine's):"; \
		OPENBLAS_CORETYPE=$$kernel $(VPY) -m pytest -q -p no:cacheprovider $(KERNEL_TESTS) || exit 1; fi

# tests/browser drives the widgets in Debian's chromium (playwright never downloads a browser).
# As root with apt-get (CI) a missing chromium is installed; otherwise only a warning, and
# those tests skip (with CI=true they fail instead).
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "warning: $(CHROMIUM) not found: the browser tests will be skipped (install Debian's chromium)"; \
	fi

install: $(STAMP_LAB)

install-test: $(STAMP_TEST)

# The Pythons constraints.txt is resolved for (PYTHONS in scripts/pins.py; a test keeps both equal).
PYTHONS_SUPPORTED := 3.11 3.12 3.13

$(VPY):
	@command -v "$(PYTHON)" >/dev/null 2>&1 || { echo "$(PYTHON) was not found: install Python 3.11, 3.12 or 3.13 and run make with PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; ok = "$(PYTHONS_SUPPORTED)".split(); tested = ", ".join(ok[:-1]) + " and " + ok[-1]; sys.exit(0 if v in ok else f"$(PYTHON) is Python {v}, but the pinned packages are tested on Python {tested}: install one of those and run make with PYTHON=/path/to/python{ok[-1]}")' || exit 1
	$(PYTHON) -m venv $(VENV)

$(STAMP_LAB): pyproject.toml constraints.txt | $(VPY)
	$(PIP) install --upgrade -c constraints.txt pip
	$(PIP) install -c constraints.txt -e ".[lab]"
	touch $@

# The test extra includes the lab extra, so a test install also satisfies `make lab`.
$(STAMP_TEST): pyproject.toml constraints.txt | $(VPY)
	$(PIP) install --upgrade -c constraints.txt pip
	$(PIP) install -c constraints.txt -e ".[test]"
	touch $@ $(STAMP_LAB)

# Resolving needs the package index and Binder's Python version (see scripts/pins.py).
pins: | $(VPY)
	$(VPY) scripts/pins.py --lock

strip: install
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace $(sort $(wildcard notebooks/*.ipynb notebooks/**/*.ipynb))

clean:
	rm -rf $(VENV)
