# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test venv assets prerequisites migrate catalog index serve worker bench clean

# production is the default; the demo (sandbox payments, demo sign-in, demo chat) says so
demo: export DEMO_MODE = 1

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# the back office's front-end assets come from the npm registry (web/package.json and its lockfile)
VENDOR := web/static/vendor
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "缺少 Node.js / npm：后台页面的前端资源由 npm 安装（Debian: apt install nodejs npm）。" >&2; exit 1; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/swagger-ui
	cp web/node_modules/bootstrap/dist/css/bootstrap.min.css web/node_modules/htmx.org/dist/htmx.min.js \
	   web/node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp web/node_modules/swagger-ui-dist/swagger-ui.css web/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	   web/node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js $(VENDOR)/swagger-ui/
	touch $@

# say what is missing before anything is installed
prerequisites:
	@command -v $(PYTHON) >/dev/null || { echo "缺少 Python 3（$(PYTHON)）。" >&2; exit 1; }
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "缺少 Node.js / npm：后台页面的前端资源由 npm 安装（Debian: apt install nodejs npm）。" >&2; exit 1; }

migrate: prerequisites venv assets
	$(FLASK) db upgrade

catalog: migrate
	$(FLASK) search synonyms load data/synonyms.jsonl
	$(FLASK) catalog import --approve data/demo_catalog.jsonl

index: catalog
	$(FLASK) search reindex

demo: index
	$(FLASK) data backfill-demo
	@echo
	@echo "后台（实验室工作台 / 平台管理控制台）：http://$(HOST):$(PORT)/login   演示账号："
	@$(FLASK) users demo-accounts
	@echo "Try:  curl -s 'http://$(HOST):$(PORT)/api/v1/search?q=辣椒粉里有没有苏丹红&limit=3'"
	@echo "      DEMO_MODE=1 $(FLASK) search query '新装修的房子能住人了吗'"
	@echo "      the demo chat: http://$(HOST):$(PORT)/demo/chat"
	@echo "      the whole order loop: DEMO_MODE=1 $(FLASK) bot walkthrough '辣椒粉里有没有苏丹红'   (RQ worker log: var/worker.log)"
	@echo "      the lab's side in the browser: DEMO_MODE=1 $(FLASK) bot walkthrough --lab-in-browser"
	@echo "      live instrument status from simulated current sensors (broker, ingestion, simulator: var/iot-demo.log)"
	@echo
	@$(FLASK) iot demo > var/iot-demo.log 2>&1 & iot=$$!; \
	$(FLASK) worker > var/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$iot $$worker 2>/dev/null; wait $$iot $$worker; $(FLASK) stop-embedded' EXIT INT TERM; \
	HOST=$(HOST) PORT=$(PORT) $(FLASK) serve

# TESTS narrows the run to some test folders (CI splits the embedded run in two to use both cores)
test: venv assets
	$(BIN)/python -m pytest -q $(TESTS)

worker: migrate
	$(FLASK) worker

bench: venv
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/iot_bench.py
	$(BIN)/python bench/order_bench.py

clean:
	rm -rf var .pytest_cache web/node_modules $(VENDOR)
