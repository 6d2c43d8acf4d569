# `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-jax test-torch test-keras215 lint bench fuzz builtins tfops clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[keras,dev,legacy,ray,export]'
	touch $(STAMP)

# The other Keras backends (issue 11), each in its own environment with no TensorFlow, created
# only when its tests run. Keras needs jax and jaxlib for one, torch for the other, and nothing
# else. torch==2.13.0 is the CPU build that lies in /opt/wheels on this kind of machine (the PyPI
# one pulls several GB of CUDA libraries): pip takes it from there, and the check after the
# install refuses a CUDA build. Measured costs of a fresh create: docs/backends.md.
BACKEND_TEST_DEPS := keras numpy h5py pytest pytest-xdist hypothesis
WHEELS ?= /opt/wheels
JAX_VENV := .venv-jax
JAX_STAMP := $(JAX_VENV)/.installed
TORCH_VENV := .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed

$(JAX_STAMP): pyproject.toml constraints.txt
	test -x $(JAX_VENV)/bin/python || $(PYTHON) -m venv $(JAX_VENV)
	$(JAX_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(JAX_VENV)/bin/python -m pip install --quiet -c constraints.txt -e . $(BACKEND_TEST_DEPS) jax jaxlib
	touch $@

$(TORCH_STAMP): pyproject.toml constraints.txt
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TORCH_VENV)/bin/python -m pip install --quiet -c constraints.txt --find-links $(WHEELS) \
		-e . $(BACKEND_TEST_DEPS) torch
	$(TORCH_VENV)/bin/python -c "import sys, torch; sys.exit(torch.version.cuda and \
		'.venv-torch: torch ' + torch.__version__ + ' is a CUDA build; want the CPU wheel')"
	touch $@

# A second Keras 2 writer (issue 13): TensorFlow 2.15, whose tf.keras is the keras 2.15 package
# (module paths `keras.src.engine`, optimizers under `keras.optimizers.experimental`), as most
# files written before tf-keras were. Only the corpus is built there; kerascope runs in .venv.
K215_VENV := .venv-keras215
K215_STAMP := $(K215_VENV)/.installed

$(K215_STAMP): constraints-keras215.txt
	test -x $(K215_VENV)/bin/python || $(PYTHON) -m venv $(K215_VENV)
	$(K215_VENV)/bin/python -m pip install --quiet -c constraints-keras215.txt tensorflow-cpu h5py
	touch $@

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP) $(JAX_STAMP)
	$(PY) -m pytest -n 2 -q
	$(MAKE) --no-print-directory test-jax

# The quick loop: every test that does not start TensorFlow (those carry the `slow` marker;
# tests/test_hygiene.py checks that they do).
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -q -m "not slow"

# The cross-backend suite (tests/backends), run from each backend's environment: it saves on
# one backend and loads in a fresh process on the others (.venv, .venv-jax, .venv-torch).
test-jax: $(STAMP) $(JAX_STAMP)
	KERAS_BACKEND=jax $(JAX_VENV)/bin/python -m pytest -n 2 -q tests/backends

test-torch: $(STAMP) $(TORCH_STAMP)
	KERAS_BACKEND=torch $(TORCH_VENV)/bin/python -m pytest -n 2 -q tests/backends

# The Keras 2 tests again, on a corpus written by keras 2.15 instead of tf-keras 2.21.
test-keras215: $(STAMP) $(K215_STAMP)
	KERASCOPE_KERAS2_WRITER=$(K215_VENV)/bin/python $(PY) -m pytest -n 2 -q \
		tests/test_keras2.py tests/test_keras2_mustshow.py tests/test_savedmodel.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests tools bench examples
	$(VENV)/bin/ruff format --check src tests tools bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/load.py
	$(PY) bench/ray.py
	$(PY) bench/scan.py
	$(PY) bench/scan_store.py
	$(PY) bench/export.py
	$(PY) bench/migrate.py
	$(PY) bench/keras2_ops.py
	$(PY) bench/bundle.py
	$(PY) bench/keras2.py

# The fuzz tests of the readers with many more examples (the normal suite runs a few hundred).
fuzz: $(STAMP)
	KERASCOPE_FUZZ=long $(PY) -m pytest -q -p no:xdist --hypothesis-show-statistics tests/test_fuzz_readers.py tests/test_marshal_code.py

# Regenerate the table of Keras built-in names from the installed Keras.
builtins: $(STAMP)
	$(PY) tools/gen_keras_builtins.py src/kerascope/_data/keras_builtins.json

# Regenerate the allowlist of TensorFlow ops Keras 2 op layers may call (docs/keras2.md).
tfops: $(STAMP)
	$(PY) tools/gen_tf_ops.py src/kerascope/_data/tf_ops.json

clean:
	rm -rf $(VENV) $(JAX_VENV) $(TORCH_VENV) $(K215_VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
