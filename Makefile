# Both entry points create the virtual environment they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/quickstart

.PHONY: demo test test-fast venv clean bench

# Opt-in CPU-only PyTorch: `make venv TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs torch and
# torchvision from that index first, instead of the CUDA build plain pip picks on Linux x86_64 (7.2 GB of
# venv). Empty (the default): pip resolves torch as Ultralytics asks for it.
TORCH_INDEX ?=

$(BIN)/synthscene: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/pip install -q torch torchvision --index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/synthscene

demo: venv
	$(BIN)/synthscene generate configs/quickstart.yaml --out $(OUT) --overwrite
	$(BIN)/synthscene preview configs/quickstart.yaml --out $(OUT)/preview.png --count 16 --overwrite
	@echo "dataset: $(OUT)/  (data.yaml, manifest.jsonl)"
	@echo "preview: $(OUT)/preview.png"

# The suite runs as on a new machine: empty HOME and XDG folders, made for the run and removed after,
# so first-run behaviour (Ultralytics' settings file, font copies, caches) is exercised every time.
test: venv
	@fresh=$$(mktemp -d) && mkdir $$fresh/home $$fresh/cache $$fresh/config && \
	HOME=$$fresh/home XDG_CACHE_HOME=$$fresh/cache XDG_CONFIG_HOME=$$fresh/config \
	$(BIN)/python -m pytest -q -x $(PYTEST_ARGS); rc=$$?; rm -rf $$fresh; exit $$rc

# the lane to run while working (under 90 s on 2 cores): no Ray, no worker processes, no CLI
# subprocesses, no training; `make test` runs those too
test-fast: venv
	$(BIN)/python -m pytest -q -x -m "not slow"

bench: venv
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) out
