# crowdtwin — the two commands on a fresh machine are `make demo` and `make test`.
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
BIN := $(CARGO_TARGET_DIR)/release/crowdtwin
# Mesa's Vulkan loader complains on headless machines without a runtime folder.
XDG_RUNTIME_DIR ?= $(shell d=$${TMPDIR:-/tmp}/crowdtwin-xdg-runtime; mkdir -p -m 700 $$d; echo $$d)
export XDG_RUNTIME_DIR
# The demo runs a real place; the bench keeps the plaza so its figures stay comparable.
DEMO_SCENARIO ?= scenarios/helsinki-kaivopiha.ron
DEMO_OUT ?= out/$(basename $(notdir $(DEMO_SCENARIO)))
SCENARIO ?= scenarios/plaza.ron

.PHONY: setup build demo test bench bench-peers clean

## setup: install lavapipe + lld, put ONNX Runtime in .ort/, build the Python environment .venv/ (idempotent)
setup:
	@tools/setup.sh

## build: the release binary (one profile for tests, demo and bench)
build: setup
	cargo build --release --locked

## demo: run the demo scenario (Kaivopiha, Helsinki, from OpenStreetMap) and print where the report is
demo: build
	$(BIN) run $(DEMO_SCENARIO) --out $(DEMO_OUT)

## test: every unit and end-to-end test
test: setup
	cargo test --release --locked --workspace --all-targets

## bench: throughput table (render, masking, end to end)
bench: build
	$(BIN) bench $(SCENARIO)

## bench-peers: crowdtwin against what a user would pick instead (a Python ONNX Runtime + NumPy masking loop)
bench-peers: build
	$(BIN) bench-peers $(SCENARIO)

clean:
	cargo clean
	rm -rf out
