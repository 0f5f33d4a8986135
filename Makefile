# Two commands do everything on a fresh machine:
#   make run    install, build the index from seeds/, serve the chat page on http://127.0.0.1:8000
#   make test   install (with Chromium for the browser tests) and run the whole test suite
.PHONY: install index run test bench bench-fidelity chromium clean

VENV   ?= .venv
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

install: $(STAMP)

# torch first, pinned: the CPU wheel on disk. Unpinned, pip would pull GBs of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[test,train]'
	touch $(STAMP)

index: install
	$(VENV)/bin/qa build

run: index
	$(VENV)/bin/qa serve --host $(HOST) --port $(PORT)

chromium:
	bash scripts/install-chromium.sh

test: install chromium
	$(VENV)/bin/python -m pytest

bench: install
	$(VENV)/bin/python -m bench

bench-fidelity: install chromium
	$(VENV)/bin/python -m bench.fidelity

clean:
	rm -rf index/builds index/CURRENT index/.build.lock
