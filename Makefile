# talkcli developer entry points. `make demo` and `make test` install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint bench bench-motion bench-render bench-realism clean

# Torch is pinned and installed first: an unpinned torch would pull GBs of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/talkcli demo -o demo.mp4 --overwrite

# The Ray path of `talkcli batch` is tested on a local runtime: the [ray] extra is installed.
RAY_STAMP := $(VENV)/.ray-stamp
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,ray]'
	touch $(RAY_STAMP)

test: $(STAMP) $(RAY_STAMP)
	$(VENV)/bin/pytest -q

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check talkcli tests bench scripts
	$(VENV)/bin/mypy talkcli

bench: bench-motion bench-render bench-realism

# The lip benchmark needs espeak-ng (phone timings); it skips itself cleanly without it.
bench-motion: $(STAMP)
	@command -v espeak-ng >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && apt-get install -y -qq espeak-ng >/dev/null; } || echo "espeak-ng unavailable"
	$(PY) bench/motion_quality.py

# Needs ../shared/dev-assets (real talking videos); skips itself cleanly without them.
bench-realism: $(STAMP)
	$(PY) bench/realism.py

bench-render: $(STAMP)
	$(PY) bench/render_speed.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache demo.mp4
