# `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz builtins clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[keras,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests tools bench examples
	$(VENV)/bin/ruff format --check src tests tools bench examples
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/load.py
	$(PY) bench/scan.py

# The fuzz tests of the readers with many more examples (the normal suite runs a few hundred).
fuzz: $(STAMP)
	KERASCOPE_FUZZ=long $(PY) -m pytest -q -p no:xdist --hypothesis-show-statistics tests/test_fuzz_readers.py

# Regenerate the table of Keras built-in names from the installed Keras.
builtins: $(STAMP)
	$(PY) tools/gen_keras_builtins.py src/kerascope/_data/keras_builtins.json

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
