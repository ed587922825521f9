# Both targets set themselves up: a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The quality benchmark's own environment: streamal plus scikit-activeml, whose stream
# strategies it runs side by side with ours (not a dependency of streamal).
BENCH_VENV := benchmarks/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed
QUALITY_ARGS ?=
REGRESSION_ARGS ?=

# Label Studio's own environment: tests/test_label_studio.py runs the real server from it
# (its Django stack must not meet streamal's dependencies), on a copy of an empty database
# migrated here once (migrating takes most of a minute). The '*' .gitignore keeps it out of
# git and ruff.
LS_VENV := tests/.venv-label-studio
LS_STAMP := $(LS_VENV)/.installed
LS_DATABASE := $(abspath $(LS_VENV))/migrated.sqlite3

.PHONY: test demo lint bench bench-quality bench-regression clean clean-cache promtool

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml benchmarks/requirements-skactiveml.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . -r benchmarks/requirements-skactiveml.txt
	touch $(BENCH_STAMP)

$(LS_STAMP): tests/requirements-label-studio.txt
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	echo '*' > $(LS_VENV)/.gitignore
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet -r tests/requirements-label-studio.txt
	rm -f $(LS_DATABASE)
	data=$$(mktemp -d) && LABEL_STUDIO_BASE_DATA_DIR=$$data $(LS_VENV)/bin/label-studio init -q \
	  --no-browser --data-dir $$data --database $(LS_DATABASE) >$$data/init.log 2>&1 \
	  || { cat $$data/init.log; rm -rf $$data; exit 1; }; rm -rf $$data
	touch $(LS_STAMP)

test: $(STAMP) $(LS_STAMP) promtool
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# promtool (Debian's prometheus package) checks deploy/prometheus in tests/test_deploy.py.
# Installed only when missing, as root, with apt-get; never fails the build (the tests skip).
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus; } >/dev/null 2>&1 \
	      || echo "could not install prometheus: promtool tests will be skipped"; \
	  else \
	    echo "promtool missing and not installable here: promtool tests will be skipped"; \
	  fi; }

demo: $(STAMP)
	$(BIN)/streamal demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/decider_throughput.py
	$(BIN)/python benchmarks/replay_throughput.py
	$(BENCH_VENV)/bin/python benchmarks/quality.py $(QUALITY_ARGS)
	$(BIN)/python benchmarks/daemon_throughput.py
	$(BIN)/python benchmarks/daemon_latency.py

# e.g. make bench-quality QUALITY_ARGS="--quick"
bench-quality: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/quality.py $(QUALITY_ARGS)

# The regression quality benchmark needs nothing beyond streamal: it runs in the main .venv.
# e.g. make bench-regression REGRESSION_ARGS="--quick"
bench-regression: $(STAMP)
	$(BIN)/python benchmarks/quality_regression.py $(REGRESSION_ARGS)

clean-cache:  # numba keys its cache on the jitted function's own file only: clear it after editing a callee
	find streamal -name "*.nbi" -o -name "*.nbc" | xargs rm -f

clean: clean-cache
	rm -rf $(VENV) $(BENCH_VENV) $(LS_VENV) .pytest_cache build *.egg-info
