# zoo: every target installs what it needs first (into .venv), so each works on a fresh clone.
#
#   make demo          render clocks, train a reader, export it, read the time
#   make test          the test suite (fast; `make test-slow` adds real training)
#   make bench         serving latency (onnxruntime vs Keras), cold start, training throughput with XLA on and off
#   make release       the release models in serve/release/ (trains first if artifacts/ lacks them)
#   make train-ENTRY   e.g. make train-mnist_cnn DATA=../shared/datasets/mnist.npz ARGS="--epochs 3"
#   make tune-ENTRY    e.g. make tune-mnist_mlp ARGS="--study optimizers"
#   make export-ENTRY  e.g. make export-clock_hands
#   make list          the zoo's entries

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ZOO := $(BIN)/zoo
DATA ?=
ARGS ?=
DATA_ARG := $(if $(DATA),--data $(DATA),)

.PHONY: install node-runtime test test-slow demo bench release list clean help

help:
	@sed -n '1,10p' Makefile

# Re-installs only when the package's metadata changed since the last install.
install: $(STAMP)
$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# onnxruntime for Node.js, the second runtime the export tests run models in. Its CPU
# runtime ships inside the npm package; --ignore-scripts skips its optional CUDA download.
NODE_DIR := export/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
node-runtime: $(NODE_STAMP)
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(NODE_DIR)
	@touch $(NODE_STAMP)

test: install $(NODE_STAMP)
	$(BIN)/python -m pytest -q

test-slow: install $(NODE_STAMP)
	$(BIN)/python -m pytest -q --run-slow

list: install
	$(ZOO) list

demo: install
	$(BIN)/python -m zoo.demo

bench: install
	$(ZOO) bench --train $(ARGS)

# serve/release/{clock,faces}.onnx + .card.json from artifacts/clock_hands and artifacts/face_gan
# (trained first when missing), e.g. make release ARGS="--faces-data ../shared/datasets/celeba.zip"
release: install
	$(BIN)/python -m serve.release $(ARGS)

train-%: install
	$(ZOO) train $* $(DATA_ARG) $(ARGS)

tune-%: install
	$(ZOO) tune $* $(DATA_ARG) $(ARGS)

export-%: install
	$(ZOO) export $* $(ARGS)

clean:
	rm -rf artifacts build dist *.egg-info .pytest_cache $(NODE_DIR)/node_modules
