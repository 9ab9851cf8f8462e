# Both entry points create the virtual environment they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/quickstart

.PHONY: demo test test-fast venv clean bench

$(BIN)/synthscene: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/synthscene

demo: venv
	$(BIN)/synthscene generate configs/quickstart.yaml --out $(OUT) --overwrite
	$(BIN)/synthscene preview configs/quickstart.yaml --out $(OUT)/preview.png --count 16
	@echo "dataset: $(OUT)/  (data.yaml, manifest.jsonl)"
	@echo "preview: $(OUT)/preview.png"

test: venv
	$(BIN)/python -m pytest -q -x

# the lane to run while working (under 90 s on 2 cores): no Ray, no worker processes, no CLI
# subprocesses, no training; `make test` runs those too
test-fast: venv
	$(BIN)/python -m pytest -q -x -m "not slow"

bench: venv
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) out
