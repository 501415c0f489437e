# Every target sets itself up: a fresh machine needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Real MNIST lives beside the project on the development and CI machines; elsewhere the user cache is used.
export MNISTLAB_DATA_DIR ?= $(if $(wildcard ../shared/datasets/mnist),$(abspath ../shared/datasets),)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo test test-quick test-accuracy notebooks lint format bench browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# The main job: see the data, train the default model, print where its report is.
demo: $(STAMP)
	$(BIN)/mnistlab data info mnist
	$(BIN)/mnistlab data show mnist --split 'train[:25]' --out runs/demo-samples.png
	$(BIN)/mnistlab train --model fastcnn
	@echo ""
	@echo "Open runs/latest/report.html in a browser for the run's report. Next, with mnistlab on your PATH"
	@echo "(source .venv/bin/activate):"
	@echo "  mnistlab predict runs/latest my_digit.jpg    # a photo of a digit you wrote"
	@echo "  mnistlab read runs/latest my_number.jpg      # a number written on one line"
	@echo "  mnistlab serve runs/latest                   # draw digits at http://127.0.0.1:8000/"

# Debian's chromium drives the drawing-page test; nothing is downloaded by the test tools themselves.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver; }

# On every core (pytest-xdist): a module's tests on one worker so its fixtures are built once, the heaviest
# modules handed out first (tests/conftest.py).
test: $(STAMP) browser
	$(BIN)/python -m pytest -m "not accuracy" -n auto --dist loadscope --no-loadscope-reorder

# The edit-test loop (under a minute): unit and data tests only. It leaves out everything marked slow
# (training runs, `mnistlab` in subprocesses, tests needing a trained model: see tests/conftest.py), the
# chromium tests and the accuracy runs; `make test` runs them all.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not accuracy and not slow and not browser"

# The example notebooks run in full, executed copies (pictures, figures) written to examples/out/.
notebooks: $(STAMP)
	$(BIN)/python examples/run_notebooks.py

# Every zoo model at its default settings on full MNIST, and the notebooks in full (slow: tens of minutes).
test-accuracy: $(STAMP)
	$(BIN)/python -m pytest -m accuracy -v

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks examples
	$(BIN)/ruff format src tests benchmarks examples

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
