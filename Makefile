# Set-up and everyday commands. `make demo` and `make test` create the virtual environment when missing.
PYTHON ?= python3
VENV ?= .venv
WORKSPACE ?= workspace
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-torch test-orchestrators quality-model lm-model lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,hf-tokenizers]'  # the extra: the tokenizer.json tests run in CI
	$(BIN)/python -m compileall -q curate  # editable installs are not byte-compiled (each worker recompiles)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/curate demo --workspace $(WORKSPACE)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The optional transformer proxy: the CPU build of torch (an unpinned torch pulls several GB of CUDA).
test-torch: $(STAMP)
	$(BIN)/pip install -q 'torch==2.13.0'
	$(BIN)/python -m pytest -q tests/sweep -k transformer

# The README's Dagster example (tests/runs/test_orchestrators.py), in a virtual environment of its own so
# that the dev install stays lean. (Dagster brings requests and charset-normalizer; with those installed,
# fastText training stopped with "Encountered NaN" until it moved to a process that imports nothing else:
# curate/quality/fasttext_fit.py.)
ORCH_VENV ?= .venv-orchestrators
test-orchestrators:
	test -x $(ORCH_VENV)/bin/python || $(PYTHON) -m venv $(ORCH_VENV)
	$(ORCH_VENV)/bin/pip install -q -e '.[dev,dagster]'
	$(ORCH_VENV)/bin/python -m pytest -q tests/runs/test_orchestrators.py

# Retrain the shipped quality classifier from ../shared/data (see quality_models/README.md). v1 was
# trained by the code of its commit (55bd3b4) and is kept as it was: a versioned name never changes meaning.
SHARED ?= ../shared/data
QUALITY_MODEL := quality_models/curate-web-quality-v2.ftz
quality-model: $(STAMP)
	$(BIN)/python quality_models/build_training_data.py --data $(SHARED) --out build/quality-data
	$(BIN)/curate train-classifier --positive build/quality-data/positive.jsonl \
		--negative build/quality-data/negative.jsonl --output $(QUALITY_MODEL) --name curate-web-quality-v2 \
		--set language=en --set min_chars=200 --set group_key=page --set chunk_words=128 --set lowercase=false
	$(BIN)/python quality_models/evaluate.py $(QUALITY_MODEL) --data $(SHARED)

# Retrain the shipped language model of the perplexity stage from ../shared/data/reference (never eval/);
# the web pages of WebText only calibrate its head / tail cutoffs (see quality_models/README.md).
LM_MODEL := quality_models/curate-prose-lm-v1.npz
lm-model: $(STAMP)
	$(BIN)/python quality_models/build_lm_data.py --data $(SHARED) --out build/lm-data
	$(BIN)/curate train-lm build/lm-data/reference.jsonl --output $(LM_MODEL) --name curate-prose-lm-v1 \
		--order 4 --calibrate $(SHARED)/web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache .ruff_cache
