# homelab.gpu_node — developer entry points. `make help` lists them.
#
#   make demo   build the lab and show what the collection finds on lab nodes
#   make test   everything CI runs: unit, integration, lint, sanity, molecule
#
# Only Python 3 and apt are needed beforehand; everything else is installed
# into .venv (PyPI) and by apt (podman, runc, debootstrap).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
COLLECTIONS := $(ROOT)/.cache/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/homelab/gpu_node
SANITY_DIR := $(ROOT)/.cache/sanity/ansible_collections/homelab/gpu_node
SHARED ?= $(abspath $(ROOT)/../shared)

export PATH := $(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(ROOT)/lab/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export PYTHONDONTWRITEBYTECODE := 1

# Molecule scenarios run by `make test` (each converges twice: changed=0 the 2nd time).
# A scenario with a SKIP_IN_CI file (first line: the reason) needs something this
# machine cannot reach (an Ubuntu/RHEL image, the internet); it is listed and skipped
# unless named explicitly: SCENARIOS=name make molecule.
ALL_SCENARIOS := $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
SKIPPED_SCENARIOS := $(notdir $(patsubst %/SKIP_IN_CI,%,$(wildcard molecule/*/SKIP_IN_CI)))
SCENARIOS ?= $(filter-out $(SKIPPED_SCENARIOS),$(ALL_SCENARIOS))

.PHONY: help venv collection lab-deps lab-image demo bench test unit integration lint sanity molecule lab-tests clean lab-down ee awx awx-jobs compose-cli controlplane deviceplugin-configs

help:
	@sed -n '1,10p' Makefile
	@echo "targets: demo bench test unit integration lint sanity molecule lab-tests awx ee awx-jobs lab-image lab-down clean"

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(STAMP)

collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(ROOT) $(COLLECTION_LINK)

lab-deps:
	scripts/lab.sh deps

lab-image: lab-deps
	scripts/lab.sh image

lab-down:
	scripts/lab.sh down

demo: venv collection lab-image
	scripts/demo.sh

bench: venv collection lab-image
	$(PY) scripts/bench.py

test: venv collection lab-image
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit deviceplugin-configs integration lint sanity molecule lab-tests awx; \
	echo "make test: all stages passed in $$(( $$(date +%s) - start ))s"

unit: venv collection
	@echo "== unit tests (pytest)"
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

# The lab's Kubernetes control plane (tests/controlplane, scripts/controlplane.sh): built once,
# cached under .cache/controlplane/<hash>; the cluster tests start and stop their own.
controlplane:
	@echo "== control plane binaries (k8s.io/kubernetes, etcd, kwok)"
	scripts/controlplane.sh build

# NVIDIA device plugin v0.20.0's own config loader (tests/deviceplugin, docs/device-plugin-upstream.md):
# built once, cached under .cache/deviceplugin/<hash>; it loads every config gpu_cluster renders, the
# examples and the profiles, and our module's checks must agree with it on good and bad configs.
deviceplugin-configs: venv collection
	@echo "== device plugin configs through upstream's own loader (k8s-device-plugin v0.20.0)"
	scripts/deviceplugin.sh build
	$(PY) -m pytest tests/deviceplugin -q -p no:cacheprovider -rP

integration: venv collection controlplane
	@echo "== integration playbooks (localhost)"
	@set -e; n=0; for pb in tests/integration/test_*.yml; do \
	  [ -e "$$pb" ] || continue; n=$$((n+1)); \
	  echo "-- $$pb"; ansible-playbook -i localhost, -c local "$$pb"; \
	done; echo "integration: $$n playbook(s) passed"

lint: venv collection
	@echo "== ansible-lint (production profile)"
	ansible-lint --profile production --offline

sanity: venv
	@echo "== ansible-test sanity"
	@mkdir -p $(HOME)/.ansible/test/cache
	@for v in 24_2 25_0 25_1; do \
	  [ -f $(HOME)/.ansible/test/cache/get_pip_$$v.py ] || cp $(SHARED)/tools/ansible-test-get-pip.py $(HOME)/.ansible/test/cache/get_pip_$$v.py; done
	@rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_DIR)
	@git ls-files -z --cached --others --exclude-standard | \
	  xargs -0 -I{} cp --parents {} $(SANITY_DIR)/ 2>/dev/null || true
	cd $(SANITY_DIR) && git init -q && git add -A && \
	  ansible-test sanity --local --python 3.11 --color no

lab-tests: venv collection lab-image
	@echo "== lab tests: interrupted site.yml runs converge (tests/lab, one podman node)"
	$(PY) -m pytest tests/lab -v -p no:cacheprovider

molecule: venv collection lab-image compose-cli
	@echo "== molecule scenarios: $(SCENARIOS)"
	@for s in $(filter-out $(SCENARIOS),$(SKIPPED_SCENARIOS)); do \
	  echo "-- skipped molecule scenario $$s: $$(head -n1 molecule/$$s/SKIP_IN_CI)"; done
	@set -e; for s in $(SCENARIOS); do \
	  echo "-- molecule test -s $$s"; \
	  t=$$(date +%s); molecule test -s $$s; \
	  echo "-- $$s passed in $$(( $$(date +%s) - t ))s"; \
	done

# Compose v2 CLI (Debian trixie's docker-compose 2.x, pinned low so nothing else moves
# to trixie): molecule/gpu_compose_docker_standin validates compose files with it.
compose-cli:
	scripts/apt_trixie.sh docker-compose

clean: lab-down
	rm -rf .cache tests/output

# --- AWX (docs/awx.md) -------------------------------------------------------------
# ee: the execution environment, built with ansible-builder + podman from a variant of
#     execution-environment.yml generated by scripts/ee.py (no network in the build;
#     tag = hash of the inputs, reused when present).
# awx-jobs: the workflow's job templates through ansible-runner in that EE against lab
#     nodes (awx-*), as AWX runs them (scripts/awx_jobs.py).
awx: venv collection lab-image
	@echo "== AWX as code and inventory/example (tests/awx)"
	$(PY) -m pytest tests/awx -q -p no:cacheprovider
	$(MAKE) --no-print-directory awx-jobs

ee: venv lab-image
	@echo "== execution environment (ansible-builder, lab variant)"
	$(PY) scripts/ee.py lab-build
	podman run --rm "$$(cat .cache/ee/image)" ansible-galaxy collection list

awx-jobs: ee
	@echo "== AWX job templates through ansible-runner in the EE (lab nodes awx-*)"
	$(PY) scripts/awx_jobs.py lab --image "$$(cat .cache/ee/image)"
