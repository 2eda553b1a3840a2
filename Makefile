# wpzo.hosting: every task a developer, CI or a newcomer runs.
# `make demo` and `make test` do all set-up themselves on a fresh Debian 12 machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export WPZO_TEST_IMAGE ?= wpzo/debian12-systemd:latest
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0

SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
GATES := lint sanity unit newcomer molecule collection-install

.PHONY: help setup venv platform lint sanity unit molecule $(addprefix molecule-,$(SCENARIOS)) \
	collection-build collection-install newcomer test demo demo-clean bench-sites bench-serve bench-converge bench-monitoring bench-process-pools bench-backups clean

help: ## List the targets
	@grep -E '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

setup: venv platform ## Development environment: virtualenv, container engine, test image

venv: $(VENV)/.installed ## Python virtualenv with the pinned tools; the checkout importable as wpzo.hosting
	@tools/check-collection-path.sh

$(VENV)/.installed: requirements-dev.txt
	tools/host-packages.sh
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	tools/link-collection.sh $(VENV)
	touch $@

platform: ## Docker engine running and the Debian 12 systemd test image built
	tools/ensure-docker.sh
	tools/build-image.sh

lint: venv ## yamllint, ansible-lint (production), ruff, role argument specs
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	python3 tools/check_argument_specs.py roles

sanity: venv ## ansible-test sanity on a copy of the collection (offline tests)
	tools/sanity.sh

unit: venv ## pytest unit tests of plugins and tools
	pytest tests/unit

molecule: venv platform ## Every Molecule scenario, two at a time (WPZO_MOLECULE_JOBS): converge, idempotence, verify; failures' logs at the end
	tools/run-molecule.sh sites $(filter-out sites,$(SCENARIOS))

$(addprefix molecule-,$(SCENARIOS)): molecule-%: venv platform
	molecule test -s $*

collection-build: venv ## Build the collection tarball into build/
	ansible-galaxy collection build --force --output-path build .

collection-install: collection-build platform ## Install the tarball into an empty path and run a playbook using it by FQCN
	tools/collection-install-test.sh build/wpzo-hosting-$$(awk '/^version:/ {print $$2}' galaxy.yml).tar.gz

test: ## Every check; ends with a summary
	@tools/run-gates.sh $(GATES)

demo: venv platform ## Provision a full hosting server into a local container
	tools/demo.sh up

newcomer: venv platform ## The newcomer's path from this checkout: make demo, both sites fetched and rendered, changed=0, demo-clean
	tools/host-packages.sh
	tools/newcomer-gate.sh

demo-clean: ## Remove the demo container
	tools/demo.sh down

N ?= 200
bench-sites: venv platform ## Build a server with N WordPress sites and print creation, no-change and add-one times
	tools/bench-sites.sh $(N)

bench-converge: venv platform ## playbooks/site.yml on a fresh demo-like server: first-provisioning and no-change times, slowest tasks
	tools/bench-converge.sh

bench-monitoring: venv platform ## The fleet scenario's monitoring: detection times, daemons' memory at 2 and 300 sites, Prometheus's disk per day
	tools/bench-monitoring.sh

POOLS ?= 300
WORKERS ?= 2
MINUTES ?= 10
bench-process-pools: venv platform ## process-exporter as monitoring_agent runs it, on a container with POOLS PHP-FPM pools of WORKERS workers: resident memory, series, scrape time
	tools/bench-process-pools.sh $(POOLS) $(WORKERS) $(MINUTES)

bench-backups: venv platform ## One site with 1 GiB of files and a 200 MiB database: backup, no-change backup and restore times, peak memory, tar | zstd as reference
	tools/bench-backups.sh

bench-serve: demo ## wrk against the demo server: static file, page-cache HIT, uncached front page
	tools/bench-serve.sh

clean: ## Remove build output (keeps the virtualenv and the image)
	rm -rf build tests/output
