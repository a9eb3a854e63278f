# The two commands the README promises, plus benchmarks. Everything here needs only the Go
# toolchain (and gcc for the race detector); nothing is installed by hand.
GO ?= go
# Packages whose code runs goroutines (kernels, concurrent Predict, writers) get the race detector.
RACE_PKGS = ./backend/... ./autograd/... ./keras/... ./tensorboard/...

.PHONY: iris test vet bench fuzz

# The main job: train the iris network end to end on the CSV that ships with the example.
iris:
	$(GO) run ./examples/iris

test: vet
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -count=1 ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race $(RACE_PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Kernel and training-step benchmarks of the reference backend (see docs/PERFORMANCE.md).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 5 ./backend/ ./bench/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 1s ./keras/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime 60s -fuzzminimizetime 1s ./tensor/safetensors/
	$(GO) test -run '^$$' -fuzz FuzzReadEvents -fuzztime 60s -fuzzminimizetime 1s ./tensorboard/
