# printhost build and test entry points.
#
#   make run        create .venv, install printhost, serve ipp://127.0.0.1:8631/printers/myprinter
#   make test       Debian packages + venv + test extras, then lint, typecheck and pytest
#   make tools      LPRng's lpr/lpq/lprm/lpd extracted into .tools/lprng (tests/lpd's peers)
#   make lint       ruff check
#   make typecheck  mypy (configuration in pyproject.toml)
#   make pytest     only the tests (PYTEST_ARGS=... to select, PYTEST_WORKERS=N to size)
#   make format     ruff format (not part of `make test`)
#   make bench      printhost vs CUPS 2.4 side by side (BENCH_ARGS=--quick, --repeat N,
#                   --rows 1,3); table on stdout, results in bench/results/
#   make clean      caches and install stamps; `make distclean` also removes .venv
#
# pip uses whatever index or mirror pip itself is configured with (pip.conf,
# PIP_* variables); nothing here names an index.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?=

# Debian packages the tests need: ipptool + its .test files (cups-ipp-utils),
# lp/lpstat/cancel (cups-client), lpr/lpq/lprm speaking IPP (cups-bsd),
# cupsd, cups-lpd and ippeveprinter (cups-daemon, cups), Ghostscript for the
# sample documents, dbus-daemon for ippeveprinter, socat, openssl, venv,
# and PostgreSQL's server programs (postgresql: initdb, postgres) for the store
# contract on PostgreSQL, which starts private clusters of its own
# (tests/support/postgres.py) and never uses a system-wide service; HAProxy
# for the load-balancer tests (deploy/haproxy/), which run their own; unshare
# (util-linux) for the DNS round-robin client test's private /etc/hosts.
# Never add lprng: it conflicts with cups-client/cups-bsd (see IPP-CLIENTS.md).
# Append with `DEB_PACKAGES += ...` in a Makefile that includes this one, or
# on the command line.
DEB_PACKAGES := cups-ipp-utils cups-client cups-bsd cups-daemon cups ghostscript dbus socat openssl python3-venv postgresql haproxy util-linux

# The tests mostly wait: on sockets, on subprocesses (ipptool, lp, the
# server under test, ippeveprinter, cupsd) and on servers' timers. Running
# twice as many xdist workers as CPUs keeps the CPUs busy while half the
# workers wait; more than that mostly adds server start-ups competing for
# the same cores. Override with PYTEST_WORKERS=N (0 disables xdist).
NPROC := $(shell nproc 2>/dev/null || echo 2)
PYTEST_WORKERS ?= $(shell echo $$(( $(NPROC) * 2 )))
PYTEST_ARGS ?=

RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test deps tools venv install install-test lint typecheck pytest format bench clean distclean

# --- Debian packages ---------------------------------------------------------

# Installs only what `dpkg-query -W` does not report as installed, running
# `apt-get update` only when something is missing. Needs root (or sudo).
deps:
	@missing=""; \
	for pkg in $(DEB_PACKAGES); do \
	  status=$$(dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null || true); \
	  [[ "$$status" == "install ok installed" ]] || missing="$$missing $$pkg"; \
	done; \
	if [[ -n "$$missing" ]]; then \
	  sudo=""; \
	  if [[ $$(id -u) -ne 0 ]]; then \
	    command -v sudo >/dev/null || { echo "need root to install:$$missing" >&2; exit 1; }; \
	    sudo="sudo"; \
	  fi; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

# --- extracted tools ---------------------------------------------------------

# LPRng's lpr/lpq/lprm/lpd, the real LPD peers of tests/lpd. The lprng package
# conflicts with cups-client/cups-bsd, so it is extracted (dpkg-deb -x) into
# .tools/lprng instead of installed. The binaries insist on /etc/lprng/lpd.conf
# (LPD_CONF is compiled out) and read /etc/printcap: both are created when absent
# (the package's own lpd.conf, whose every line is a comment, and an empty
# printcap), which needs root. `apt-get update` runs only when the download fails.
TOOLS_DIR := .tools
LPRNG_DIR := $(TOOLS_DIR)/lprng
LPRNG_STAMP := $(LPRNG_DIR)/.extracted

tools: $(LPRNG_STAMP)
	@sudo=""; [[ $$(id -u) -eq 0 ]] || sudo="sudo"; \
	if [[ ! -e /etc/lprng/lpd.conf ]]; then \
	  echo "creating /etc/lprng/lpd.conf (LPRng defaults)"; \
	  $$sudo install -D -m 644 $(LPRNG_DIR)/etc/lprng/lpd.conf /etc/lprng/lpd.conf; \
	fi; \
	if [[ ! -e /etc/printcap ]]; then \
	  echo "creating an empty /etc/printcap"; \
	  $$sudo install -m 644 /dev/null /etc/printcap; \
	fi

$(LPRNG_STAMP):
	@mkdir -p $(TOOLS_DIR)/debs
	@cd $(TOOLS_DIR)/debs && if ! compgen -G 'lprng_*.deb' >/dev/null; then \
	  if ! apt-get download lprng; then \
	    sudo=""; [[ $$(id -u) -eq 0 ]] || sudo="sudo"; \
	    $$sudo apt-get update; \
	    apt-get download lprng; \
	  fi; \
	fi
	rm -rf $(LPRNG_DIR)
	dpkg-deb -x $$(ls $(TOOLS_DIR)/debs/lprng_*.deb | tail -n 1) $(LPRNG_DIR)
	touch $@

# --- virtualenv --------------------------------------------------------------

# On a fresh Debian 12, python3 lacks ensurepip (and so `-m venv`) until
# python3-venv is installed.
$(BIN)/python:
	@if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
	  echo "$(PYTHON) cannot create virtualenvs; installing python3-venv"; \
	  sudo=""; [[ $$(id -u) -eq 0 ]] || sudo="sudo"; \
	  $$sudo apt-get update; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv; \
	fi
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python

# The stamps make pip run again only when pyproject.toml changes.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

install: $(RUN_STAMP)
install-test: $(TEST_STAMP)

# --- entry points ------------------------------------------------------------

run: $(RUN_STAMP)
	$(BIN)/printhost serve $(if $(CONFIG),--config $(CONFIG))

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no tests; like any non-zero status that
# fails the recipe (and so `make test`).
pytest: $(TEST_STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider \
	  $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) \
	  --durations=15 --ipptool-counts-file=var/conformance-counts.txt $(PYTEST_ARGS)

# Runs every step even when an earlier one fails, then fails if any did, so
# one run reports lint, type and test problems together.
test: deps tools $(TEST_STAMP)
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory typecheck || status=1; \
	$(MAKE) --no-print-directory pytest || status=1; \
	if [[ $$status -ne 0 ]]; then echo "make test: FAILED" >&2; else echo "make test: passed"; fi; \
	exit $$status

format: $(TEST_STAMP)
	$(BIN)/ruff format src tests bench

# Benchmarks are not tests: `make test` only runs tests/bench (the quick bench, end to
# end, no timing assertions). The bench needs the same Debian packages (cupsd,
# ippeveprinter, dbus-daemon, Ghostscript) and root, for cupsd's lp backends.
BENCH_ARGS ?=
bench: deps $(RUN_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -f $(RUN_STAMP) $(TEST_STAMP)

distclean: clean
	rm -rf $(VENV)
