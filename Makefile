# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test venv migrate catalog index serve worker bench clean

# production is the default; the demo (sandbox payments, demo sign-in, demo chat) says so
demo: export DEMO_MODE = 1

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

migrate: venv
	$(FLASK) db upgrade

catalog: migrate
	$(FLASK) search synonyms load data/synonyms.jsonl
	$(FLASK) catalog import data/demo_catalog.jsonl

index: catalog
	$(FLASK) search reindex

demo: index
	@echo
	@echo "Try:  curl -s 'http://$(HOST):$(PORT)/api/v1/search?q=辣椒粉里有没有苏丹红&limit=3'"
	@echo "      DEMO_MODE=1 $(FLASK) search query '新装修的房子能住人了吗'"
	@echo "      the demo chat: http://$(HOST):$(PORT)/demo/chat"
	@echo "      the whole order loop: DEMO_MODE=1 $(FLASK) bot walkthrough '辣椒粉里有没有苏丹红'   (RQ worker log: var/worker.log)"
	@echo "      live instrument status from simulated current sensors (broker, ingestion, simulator: var/iot-demo.log)"
	@echo
	@$(FLASK) iot demo > var/iot-demo.log 2>&1 & iot=$$!; \
	$(FLASK) worker > var/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$iot $$worker 2>/dev/null; wait $$iot $$worker; $(FLASK) stop-embedded' EXIT INT TERM; \
	HOST=$(HOST) PORT=$(PORT) $(FLASK) serve

test: venv
	$(BIN)/python -m pytest -q

worker: migrate
	$(FLASK) worker

bench: venv
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/iot_bench.py
	$(BIN)/python bench/order_bench.py

clean:
	rm -rf var .pytest_cache
