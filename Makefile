# One command per habit. `make run` and `make test` do all set-up on a fresh Debian machine with Python 3.11.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := .tools/bin/uv
UV_VERSION := 0.13.9
PORT ?= 8501
# The address `make run` listens on: the loopback interface only, since demo mode signs anyone who can reach
# the port in without a password. `make run BIND_ADDRESS=0.0.0.0` serves other machines (never in demo mode
# on a network you do not control; production runs behind a TLS proxy, docs/deployment.md).
BIND_ADDRESS ?= 127.0.0.1
THREAT_DB ?= data/threats.duckdb
SHARED ?= ../shared/data
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test check bench load load-replicas demo browser served-env nginx serve clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Creates .venv with the app and dev dependencies exactly as locked in uv.lock.
install: $(UV)
	$(UV) sync --frozen --quiet

# The demo store: synthetic UK and AU institute reporting and evaluations, the real public ATLAS taxonomy, AI
# Incident Database and Epoch AI benchmark results when ../shared/data is beside the checkout (the demo works
# without them), and two joint assessments (one approved, one in review) made through the real workflow.
demo: install
	@if [ ! -f "$(THREAT_DB)" ]; then \
		$(PY) -m analytics demo --db "$(THREAT_DB)" --showcase $$([ -d "$(SHARED)" ] && echo --public "$(SHARED)"); \
	else echo "using existing $(THREAT_DB)"; fi

# The synthetic data ends on a fixed day (analytics/demo/world.py DEMO_END), so the demo pins "today" to it and
# every page says so; THREAT_TODAY=YYYY-MM-DD overrides.
run: demo
	THREAT_DB="$(THREAT_DB)" THREAT_DEMO_MODE=1 \
	THREAT_TODAY="$${THREAT_TODAY:-$$($(PY) -c 'from analytics.demo.world import DEMO_END; print(DEMO_END)')}" \
	$(VENV)/bin/streamlit run asgi.py \
		--server.address $(BIND_ADDRESS) --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# Browser tests drive Debian's Chromium, and the PDF briefing test reads its text with poppler's pdftotext;
# install them when we can (root), otherwise say how.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! command -v pdftotext >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium poppler-utils >/dev/null; \
		else echo "The tests need Debian's Chromium and poppler: sudo apt-get install -y chromium poppler-utils"; \
		exit 1; fi; fi

# The served store (docs/deployment.md): DuckDB 1.5.5 with its Quack extension, in a second environment built
# from its own lock (deploy/served/uv.lock), since DuckDB 2.0.1's Quack cannot be installed offline. The app
# code is the same checkout; only the environment differs.
SERVED_VENV := .venv-served
served-env: $(UV)
	UV_PROJECT_ENVIRONMENT="$(CURDIR)/$(SERVED_VENV)" $(UV) sync --frozen --quiet --project deploy/served

# Debian's nginx, for the replicas-behind-a-proxy tests (deploy/nginx/replicas.conf); installed when root.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
		else echo "The deployment tests need Debian's nginx: sudo apt-get install -y nginx-light"; exit 1; fi; fi

# The store server for replicas: `make serve` holds SERVE_DB and serves it on SERVE_LISTEN over Quack; the token
# is [store] token in .streamlit/secrets.toml (docs/deployment.md). DuckDB 1.5.5 cannot read a file written by
# 2.0.1, so the served store is its own file, built (demo data) by the served environment when missing.
SERVE_LISTEN ?= quack:127.0.0.1:9494
SERVE_DB ?= data/served.duckdb
serve: served-env
	@if [ ! -f "$(SERVE_DB)" ]; then $(SERVED_VENV)/bin/python -m analytics demo --db "$(SERVE_DB)"; fi
	$(SERVED_VENV)/bin/python -m analytics serve --db "$(SERVE_DB)" --listen "$(SERVE_LISTEN)"

test: install browser served-env nginx
	$(PY) -m pytest -q --junitxml=artifacts/junit.xml

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Minutes, not seconds: builds 100k/1M/10M-incident stores (kept in BENCH_STORES for the next run, ~4 GB) and
# rewrites the generated part of docs/benchmarks.md. BENCH_SIZES=100000,1000000 for a quicker pass.
BENCH_SIZES ?= 100000,1000000,10000000
BENCH_STORES ?= /tmp/threat-bench
bench: install
	mkdir -p artifacts
	$(PY) -m analytics bench --sizes $(BENCH_SIZES) --store-dir $(BENCH_STORES) --json artifacts/bench.json \
		--details artifacts/bench-details.json --markdown docs/benchmarks.md

# Many analysts at once against one server (tests/load/run.py): 20 sessions x 10 filter changes on a 1M store,
# LOAD_BROWSERS of them in Chromium, the rest at the Streamlit protocol level; writes during the load. Each
# analyst looks at the result for LOAD_THINK seconds (+-50%) before the next change; LOAD_THINK=0 hammers.
LOAD_INCIDENTS ?= 1000000
LOAD_BROWSERS ?= 4
LOAD_THINK ?= 5
load: install browser
	mkdir -p artifacts
	$(PY) -m tests.load --incidents $(LOAD_INCIDENTS) --sessions 20 --browser-sessions $(LOAD_BROWSERS) \
		--changes 10 --think $(LOAD_THINK) --out artifacts/load.json

# The same kind of load over 1, 2 and 4 app replicas behind nginx, all clients of one store server over Quack
# (tests/load/replicas.py): LOAD_ROUNDS rounds of every configuration in rotated order, the load average before
# and during each; medians over rounds of p50/p95 per sign-in, filter change and export, as ratios against one
# replica in the same run. LOAD_SESSIONS may list several counts (10,20,40).
LOAD_REPLICAS ?= 1,2,4
LOAD_SESSIONS ?= 40
LOAD_ROUNDS ?= 3
LOAD_CHANGES ?= 6
load-replicas: install served-env nginx
	mkdir -p artifacts
	$(PY) -m tests.load.replicas --incidents $(LOAD_INCIDENTS) --replicas $(LOAD_REPLICAS) \
		--sessions $(LOAD_SESSIONS) --rounds $(LOAD_ROUNDS) --changes $(LOAD_CHANGES) --think $(LOAD_THINK) \
		--out artifacts/load-replicas.json

clean:
	rm -rf $(VENV) $(SERVED_VENV) .tools artifacts .pytest_cache .mypy_cache .ruff_cache
