# The two commands the README promises, plus benchmarks. Everything here needs only the Go
# toolchain (and gcc for the race detector); nothing is installed by hand.
GO ?= go
# Packages whose code runs goroutines (kernels, concurrent Predict, writers) get the race detector.
RACE_PKGS = ./backend/... ./autograd/... ./keras/... ./tensorboard/... ./frame/... ./nn/...

.PHONY: iris test vet deps pydeps bench bench-data bench-fashion fuzz

# The main job: train the iris network end to end on the CSV that ships with the example.
iris:
	$(GO) run ./examples/iris

# Independent readers and writers for deepframe's formats (pyarrow and pandas for Parquet, CSV
# and JSON lines, Pillow for images, the safetensors package, TensorBoard's own event reader) live in a virtual environment the
# tests find through DEEPFRAME_PYTHON; without it those cross-checks skip and say why.
TEST_VENV = $(CURDIR)/.venv-test
TEST_PY_PKGS = pyarrow pandas numpy safetensors tensorboard pillow

test: deps pydeps vet
	CGO_ENABLED=0 $(GO) build ./...
	if [ -f $(TEST_VENV)/.complete ]; then export DEEPFRAME_PYTHON=$(TEST_VENV)/bin/python DEEPFRAME_TB_PYTHON=$(TEST_VENV)/bin/python; fi; \
		$(GO) test -count=1 ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race $(RACE_PKGS)

# The CPU libraries the accelerated backends load at run time (Debian packages). Without them
# deepframe runs on its pure-Go backend and the parity tests skip, so a machine where apt is
# not available still tests everything else.
DEPS_PKGS = libopenblas0-pthread libdnnl2
deps:
	@if ldconfig -p 2>/dev/null | grep -q libdnnl.so.2 && ldconfig -p 2>/dev/null | grep -q libopenblas.so.0; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEPS_PKGS) ) \
			|| echo "deps: could not install $(DEPS_PKGS); accelerated-backend tests will skip"; \
	else echo "deps: no apt-get; install $(DEPS_PKGS) for the accelerated backends"; fi

pydeps:
	@if [ "$$(cat $(TEST_VENV)/.complete 2>/dev/null)" != "$(TEST_PY_PKGS)" ]; then \
		( python3 -m venv $(TEST_VENV) && $(TEST_VENV)/bin/python -m pip install -q --disable-pip-version-check $(TEST_PY_PKGS) \
			&& echo "$(TEST_PY_PKGS)" > $(TEST_VENV)/.complete ) \
			|| echo "pydeps: could not install $(TEST_PY_PKGS) into $(TEST_VENV); the cross-checks against them will skip"; \
	fi

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Kernel and training-step Go benchmarks, then the same workloads in deepframe and its peers
# (PyTorch, TensorFlow/Keras, ONNX Runtime) with the same thread budget: bench/run.sh creates
# the peers' virtual environment in bench/.venv on first use. QUICK=1 is a smoke run;
# THREADS=n sets the budget (default 2). See docs/PERFORMANCE.md.
QUICK ?= 0
THREADS ?= 2
bench:
	$(GO) test -run '^$$' -bench . $(if $(filter 1,$(QUICK)),-benchtime 1x -count 1,-benchtime 2s -count 5) ./backend/ ./bench/
	GO=$(GO) QUICK=$(QUICK) THREADS=$(THREADS) bash bench/run.sh
	$(MAKE) bench-data

# The training input path: Fashion-MNIST as a 785-column CSV (60,000 rows, ~130 MB) read into a
# frame and batched into float32 tensors, beside pyarrow's CSV reader and pandas in the same run
# (bench/.venv holds them once `make bench` has run).
bench-data:
	bash bench/venv.sh bench/.venv
	DEEPFRAME_BENCH_ROWS=60000 DEEPFRAME_PYTHON=$(CURDIR)/bench/.venv/bin/python \
		$(GO) test -run '^$$' -bench 'CSV' -benchtime 3x ./frame/

# Fashion-MNIST time to 0.90 test accuracy, deepframe beside PyTorch (bench/fashion.sh).
bench-fashion:
	GO=$(GO) THREADS=$(THREADS) bash bench/fashion.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 1s ./keras/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime 60s -fuzzminimizetime 1s ./tensor/safetensors/
	$(GO) test -run '^$$' -fuzz FuzzReadEvents -fuzztime 60s -fuzzminimizetime 1s ./tensorboard/
