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

.PHONY: install run test check bench load demo browser clean

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

test: install browser
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

clean:
	rm -rf $(VENV) .tools artifacts .pytest_cache .mypy_cache .ruff_cache
