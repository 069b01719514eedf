# talkcli developer entry points. `make demo` and `make test` install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint bench bench-motion bench-render bench-render-quick \
	bench-render-device \
	bench-realism bench-mouth bench-stream bench-provenance bench-batch clean fuzz system-ffmpeg \
	bytecode

# Torch is pinned and installed first: an unpinned torch would pull GBs of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# talkcli's own bytecode: an editable install never compiles it, and where
# PYTHONDONTWRITEBYTECODE is set (CI images, containers) every run compiled ~90 modules again
# (~0.1 s of each render's time to first frame). Incremental: only changed files.
bytecode: $(STAMP)
	@$(PY) -m compileall -q talkcli

demo: bytecode
	$(VENV)/bin/talkcli demo -o demo.mp4 --overwrite

# The Ray path of `talkcli batch` is tested on a local runtime: the [ray] extra is installed.
RAY_STAMP := $(VENV)/.ray-stamp
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,ray]'
	touch $(RAY_STAMP)

# The encoder and demo tests run once per ffmpeg present (system and imageio-ffmpeg's);
# `make system-ffmpeg` (root, apt) adds Debian's, as .ci/run does.
test: bytecode $(RAY_STAMP)
	@command -v ffmpeg >/dev/null || echo "note: no system ffmpeg; its test variants skip"
	$(VENV)/bin/pytest -q

system-ffmpeg:
	@command -v ffmpeg >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && apt-get install -y -qq ffmpeg >/dev/null; } || echo "Debian's ffmpeg unavailable"

# Long fuzz runs, offline, not in CI: `make -j4 fuzz` runs the four targets at once,
# TALKCLI_FUZZ_MINUTES each (default 30); results in bench/results/fuzz-<target>.json.
FUZZ_TARGETS := config motion image audio
fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))

fuzz-%: $(STAMP)
	nice -n 19 $(PY) bench/fuzz.py $*

test-fast: bytecode
	$(VENV)/bin/pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check talkcli tests bench scripts
	$(VENV)/bin/mypy talkcli

bench: bench-motion bench-render bench-render-device bench-realism bench-mouth bench-stream bench-provenance bench-batch

# The lip benchmark needs espeak-ng (phone timings); it skips itself cleanly without it.
bench-motion: bytecode
	@command -v espeak-ng >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && apt-get install -y -qq espeak-ng >/dev/null; } || echo "espeak-ng unavailable"
	$(PY) bench/motion_quality.py

# Needs ../shared/dev-assets (real talking videos); skips itself cleanly without them.
bench-realism: bytecode
	$(PY) bench/realism.py

# The mouth as people's (issue #8): renders of every dev portrait, re-measured; needs
# ../shared/dev-assets (skips without); the synthetic-speech part needs espeak-ng.
bench-mouth: bytecode
	@command -v espeak-ng >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && apt-get install -y -qq espeak-ng >/dev/null; } || echo "espeak-ng unavailable"
	nice -n 10 $(PY) bench/mouth.py

# talkcli stream measured from outside: startup, mouth-open latency, cadence, drops, a
# sustained run (SUSTAIN_S seconds; the target is 600) and quality against render.
SUSTAIN_S ?= 600
bench-stream: bytecode
	$(PY) bench/stream_latency.py --sustain-s $(SUSTAIN_S)

# 512² for 1 and 10 min, 256² and 1024² for 1 min (~8 min on a quiet 2-core machine);
# the quick one: 20 s and 60 s at 512², 20 s at the other sizes.
bench-render: bytecode
	$(PY) bench/render_speed.py

# The renderer alone, per device, from a rig and motion prepared here (bench/.device-inputs:
# two small .npz files). `run` needs only numpy, torch and OpenCV, so the folder can travel to
# a CUDA machine that lacks the other wheels: `python3 bench/render_device.py run DIR`.
DEVICE_INPUTS := bench/.device-inputs
bench-render-device: bytecode
	$(PY) bench/render_device.py prepare $(DEVICE_INPUTS)
	$(PY) bench/render_device.py run $(DEVICE_INPUTS)

bench-render-quick: bytecode
	$(PY) bench/render_speed.py --quick --output bench/results/render_quick.json

# talkcli batch against a shell loop of talkcli render: 24 jobs of 10 s clips, 1 and 2 local
# workers and --ray on a local runtime (issue #12); ~8 min on a quiet 2-core machine.
bench-batch: bytecode $(RAY_STAMP)
	$(PY) bench/batch_speed.py

# Watermark robustness + false positives (dev-assets used when present), C2PA, PSNR, cost.
bench-provenance: bytecode
	$(PY) bench/provenance.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache demo.mp4
