# cmrsuite: two commands on a fresh machine.
#   make demo   set up .venv, install the suite, run the demo on the built-in phantom
#   make test   set up .venv, install the suite with test extras, check the import contracts
#               (lint-imports, [tool.importlinter] in pyproject.toml), run pytest (without the
#               CI-only tests of the `ci` marker: `.venv/bin/python -m pytest -m ci` runs them)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN_DIR ?= runs/demo

.PHONY: setup demo test docs bench clean check-report-browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: pip takes the local CPU wheel.
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/cmrsuite demo --out $(RUN_DIR)

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/mkdocs build --strict
	@# the example evidence report: from the newest demo run, if `make demo` made one
	@run=$$(ls -td $(RUN_DIR)/*/ 2>/dev/null | head -1); \
	if [ -n "$$run" ] && [ -f "$$run/results.sqlite" ]; then \
	  $(BIN)/cmrsuite report "$$run" --guideline all --format md,html && \
	  rm -rf site/example-report && mkdir -p site/example-report && \
	  cp -r "$$run/report/." site/example-report/ && \
	  echo "example evidence report: site/example-report/claim/report.html"; \
	else echo "no demo run under $(RUN_DIR): run 'make demo' first to add the example evidence report"; fi

check-report-browser: $(STAMP)
	$(BIN)/python -m pytest -q -rs -m ci tests/test_report_browser.py

bench: $(STAMP)
	@# bench_speed.py runs bench_recon/runner/robustness itself and prints issue 17's table last
	@for b in benchmarks/bench_*.py; do \
	  case $$b in */bench_speed.py|*/bench_recon.py|*/bench_runner.py|*/bench_robustness.py) \
	    continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "== benchmarks/bench_speed.py"; $(BIN)/python benchmarks/bench_speed.py

clean:
	rm -rf $(VENV) site runs .pytest_cache
