# zoo: every target installs what it needs first (into .venv), so each works on a fresh clone.
#
#   make demo          render clocks, train a reader, export it, read the time
#   make test          the test suite (fast; `make test-slow` adds real training)
#   make fuzz          zoo serve fuzzed against its OpenAPI document (Schemathesis), long: FUZZ_EXAMPLES=300 per operation
#   make bench         serving latency (onnxruntime vs Keras), cold start, training throughput with XLA on and off
#   make serve-bench   zoo serve under load: cold start, /time latency, 32 clients, memory, batched infer
#   make page-screenshots   docs/page-phone.png, page-desktop.png: zoo serve's page in headless chromium
#   make release       the release models in serve/release/ (trains first if artifacts/ lacks them)
#   make train-ENTRY   e.g. make train-mnist_cnn DATA=../shared/datasets/mnist.npz ARGS="--epochs 3"
#   make tune-ENTRY    e.g. make tune-mnist_mlp ARGS="--study optimizers"
#   make study-task1   the report's Task 1: MNIST MLP and CNN studies, carried to CIFAR-10
#   make study-faces   the report's Task 3: its VAE and GAN setups, with sample grids in docs/faces/
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

.PHONY: wallpapers install node-runtime test-tools test test-slow fuzz demo bench serve-bench page-screenshots release list clean help study-task1 study-faces study-mnist_mlp study-mnist_cnn study-cifar10

help:
	@sed -n '1,/^$$/p' Makefile

# Re-installs only when the package's metadata changed since the last install.
install: $(STAMP)
$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[train,test]'
	@touch $(STAMP)

# onnxruntime for Node.js, the second runtime the export tests run models in. Its CPU
# runtime ships inside the npm package; --ignore-scripts skips its optional CUDA download.
NODE_DIR := export/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
node-runtime: $(NODE_STAMP)
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(NODE_DIR)
	@touch $(NODE_STAMP)

# What only the tests use, beyond setup.cfg's [test] extra:
# - Triton's Python client: the tests talk to zoo serve with its HTTP client and parse
#   zoo triton-repository's configs with its model_config_pb2. It pins ml-dtypes<=0.5.4,
#   older than TensorFlow's (whose newer ml-dtypes has the bfloat16 it uses), so it goes in
#   with --no-deps beside the packages its HTTP client imports (grpcio and protobuf come
#   with TensorFlow); the last line checks that TensorFlow and both still import.
# - Playwright (its driver ships in the wheel) and Debian's chromium, for the page test:
#   apt-get runs only as root and when chromium is missing; without it that test skips.
TRITONCLIENT ?= tritonclient==2.73.0
TEST_STAMP := $(VENV)/.test-tools-stamp
test-tools: $(TEST_STAMP)
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(TRITONCLIENT)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "python-rapidjson>=0.9.1" \
		"geventhttpclient>=2.3.3" "playwright>=1.45,<2"
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "no chromium (apt-get needs root): the page test will skip"
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -c "import tensorflow, tritonclient.http, tritonclient.grpc.model_config_pb2, playwright.sync_api"
	@touch $@

test: install $(NODE_STAMP) $(TEST_STAMP)
	$(BIN)/python -m pytest -q --durations=15

test-slow: install $(NODE_STAMP) $(TEST_STAMP)
	$(BIN)/python -m pytest -q --run-slow

# tests/test_openapi.py with FUZZ_EXAMPLES examples per operation (the test suite runs a few): it starts
# zoo serve on loopback with the release models and checks every answer against serve/http/openapi.json.
# FUZZ_SEED=N for another run; the same seed sends the same requests.
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?= 45
fuzz: install
	ZOO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ZOO_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/test_openapi.py

list: install
	$(ZOO) list

demo: install
	$(BIN)/python -m zoo.demo

bench: install
	$(ZOO) bench --train $(ARGS)

# Starts zoo serve itself on loopback; writes serve-bench.json and .csv. Run it on an idle machine.
serve-bench: install
	$(ZOO) serve-bench $(ARGS)

# docs/page-phone.png (390 px wide) and docs/page-desktop.png (1280 px); a CIFAR-10 test photo
# goes on the photo sorter when CIFAR (below) exists, else a made-up one.
page-screenshots: install $(TEST_STAMP)
	$(BIN)/python tests/page_browser.py docs $(if $(wildcard $(CIFAR)),--cifar $(CIFAR),)

# serve/release/{clock,faces,mnist,cifar10}.onnx + .card.json, each trained first (when its run
# folder under artifacts/ is empty) with the recipe export/release.py declares, e.g.
# make release ARGS="--only mnist" or ARGS="--data faces=../shared/datasets/celeba-subset.zip".
# MNIST and CIFAR (below) are passed when they exist. The clock reader's training clocks stand on
# photos from CLOCK_BACKGROUNDS when it exists (else the renderer's own textures); several sets
# join with ':' and are drawn from equally, e.g. with Debian's photographic wallpapers at full
# resolution: make wallpapers release CLOCK_BACKGROUNDS=../shared/datasets/cifar10-jpg.zip:artifacts/wallpapers
WALLPAPERS := artifacts/wallpapers
CLOCK_BACKGROUNDS ?= $(wildcard ../shared/datasets/cifar10-jpg.zip)
release: install
	$(BIN)/python -m export.release $(if $(CLOCK_BACKGROUNDS),--clock-backgrounds $(CLOCK_BACKGROUNDS),) \
		$(if $(wildcard $(MNIST)),--data mnist=$(MNIST),) $(if $(wildcard $(CIFAR)),--data cifar10=$(CIFAR),) $(ARGS)

# The listed wallpapers copied out of their Debian packages (installed here when run as root),
# for CLOCK_BACKGROUNDS above (tried for the clock reader on 2026-12-08; docs/clock-reader.md).
wallpapers: $(WALLPAPERS)/.stamp
$(WALLPAPERS)/.stamp: zoo/clocks/clockface/wallpapers.txt
	@test "$$(id -u)" != 0 || dpkg -s mate-backgrounds plasma-workspace-wallpapers gnome-backgrounds >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mate-backgrounds \
		plasma-workspace-wallpapers gnome-backgrounds >/dev/null; } || echo "no wallpapers (apt-get failed)"
	@mkdir -p $(WALLPAPERS)
	@grep -v '^#' $< | while read -r file; do test -f "$$file" && \
		cp "$$file" "$(WALLPAPERS)/$$(echo "$$file" | cut -d/ -f4- | tr / _)"; done; true
	@touch $@

train-%: install
	$(ZOO) train $* $(DATA_ARG) $(ARGS)

tune-%: install
	$(ZOO) tune $* $(DATA_ARG) $(ARGS)

# ---------------------------------------------------------------- the report's Task 1 studies
# Each study is one `zoo tune`; a finished study is only re-tabulated, an interrupted
# one resumes. MNIST and CIFAR-10 default to the shared offline copies.
MNIST ?= ../shared/datasets/mnist.npz
CIFAR ?= ../shared/datasets/cifar10-jpg.zip
TUNE_DIR ?= artifacts/tune
ONE_FACTOR := initializers activations optimizers regularizers
# The MLP runs the report's full grids at its 12 epochs (the Task 1 rows in results/ say how long).
MLP_ARGS ?= --epochs 12
MLP_JOINT_ARGS ?= --tuner grid
# The report's CNN grids at 12 epochs (28 + 198 trials of 7-8 minutes each on two cores)
# would take days: its studies run on a budget, and the Task 1 table says so.
CNN_ARGS ?= --epochs 6 --limit 12000
CNN_JOINT_ARGS ?= --tuner random --max-trials 12
CIFAR_EPOCHS ?= --epochs 12 --epochs 24
# Beyond the report: schedule, dropout and shifts around the adaptive optimisers.
MLP_REFINE_ARGS ?= --tuner bayes --max-trials 10
CNN_REFINE_ARGS ?= --tuner bayes --max-trials 8

study-mnist_mlp: install
	for study in $(ONE_FACTOR); do \
	  $(ZOO) tune mnist_mlp --study $$study --data $(MNIST) --directory $(TUNE_DIR) $(MLP_ARGS) $(ARGS) || exit 1; done
	$(ZOO) tune mnist_mlp --study joint --data $(MNIST) --directory $(TUNE_DIR) $(MLP_ARGS) $(MLP_JOINT_ARGS) $(ARGS)
	$(ZOO) tune mnist_mlp --study refine --data $(MNIST) --directory $(TUNE_DIR) $(MLP_ARGS) $(MLP_REFINE_ARGS) $(ARGS)

study-mnist_cnn: install
	for study in $(ONE_FACTOR); do \
	  $(ZOO) tune mnist_cnn --study $$study --data $(MNIST) --directory $(TUNE_DIR) $(CNN_ARGS) $(ARGS) || exit 1; done
	$(ZOO) tune mnist_cnn --study joint --data $(MNIST) --directory $(TUNE_DIR) $(CNN_ARGS) $(CNN_JOINT_ARGS) $(ARGS)
	$(ZOO) tune mnist_cnn --study refine --data $(MNIST) --directory $(TUNE_DIR) $(CNN_ARGS) $(CNN_REFINE_ARGS) $(ARGS)

study-cifar10: install
	$(ZOO) task1 --directory $(TUNE_DIR) --cifar-data $(CIFAR) $(CIFAR_EPOCHS)

study-task1: install study-mnist_mlp study-mnist_cnn study-cifar10

# ---------------------------------------------------------------- the report's Task 3 setups
# Its VAE setups (Table 8: filters-latent) and GAN setups (Table 9), each a run folder under
# FACES_DIR with a 16-face grid and an interpolation strip (linear, then spherical) in
# FACES_DOCS. A finished run is reused (delete its folder to retrain), an interrupted one
# resumes. At the report's epochs they take hours each on two cores: set VAE_EPOCHS and
# GAN_EPOCHS for a budget; results/faces.csv records how far each got.
CELEBA ?= ../shared/datasets/celeba-subset.zip
FACES_DIR ?= artifacts/faces
FACES_DOCS ?= docs/faces
VAE_SETUPS := 128-32 128-64 256-64
GAN_SETUPS := 64-128 128-128
VAE_EPOCHS ?= 30
GAN_EPOCHS ?= 20
FACES_ARGS ?= --precision auto
FACE_SETUPS := $(addprefix vae-,$(VAE_SETUPS)) $(addprefix gan-,$(GAN_SETUPS))
setup_hp = --hp filters=$(word 1,$(subst -, ,$(1))) --hp latent_dim=$(word 2,$(subst -, ,$(1)))
# Finished runs are kept: make would otherwise delete them as intermediate files.
.PRECIOUS: $(FACES_DIR)/vae-%/metrics.json $(FACES_DIR)/gan-%/metrics.json

$(FACES_DIR)/vae-%/metrics.json: | $(STAMP)
	$(ZOO) train face_vae --data $(CELEBA) $(call setup_hp,$*) --epochs $(VAE_EPOCHS) --out $(@D) $(FACES_ARGS)

# The report's GAN builders: constant width, 3x3 transposed kernels.
$(FACES_DIR)/gan-%/metrics.json: | $(STAMP)
	$(ZOO) train face_gan --data $(CELEBA) $(call setup_hp,$*) --hp taper=false --hp kernel_size=3 \
		--epochs $(GAN_EPOCHS) --out $(@D) $(FACES_ARGS)

$(FACES_DOCS)/%-grid.png: $(FACES_DIR)/%/metrics.json
	$(ZOO) faces-sample --model $(<D) --kind grid --count 16 --seed 1 --out $@

$(FACES_DOCS)/%-interpolation.png: $(FACES_DIR)/%/metrics.json
	$(ZOO) faces-sample --model $(<D) --kind interpolation --pairs 1 --steps 8 --seed 1 --out $@

study-faces: $(foreach setup,$(FACE_SETUPS),$(FACES_DOCS)/$(setup)-grid.png $(FACES_DOCS)/$(setup)-interpolation.png)

export-%: install
	$(ZOO) export $* $(ARGS)

clean:
	rm -rf artifacts build dist *.egg-info .pytest_cache $(NODE_DIR)/node_modules
