# shipyard: one entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= sandbox
# The inventories on the local cluster (hack/cluster): make up starts it, make down removes it.
LOCAL_ENVS := sandbox tenants
ARGS ?=
SCENARIO ?=
PORT ?= 8080

export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.sandbox/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 0
export ANSIBLE_FORCE_COLOR := 0

# The binaries the clusters here run: the local cluster's control plane and node, etcd, kwok
# (its simulated node), kubectl, and kwokctl (the scenarios' simulated clusters). `make up`
# builds only these; `make sandbox-build` adds kind and helm, which the tools' roles install.
CLUSTER_BINS := kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok kwokctl
# The tools the local cluster's images carry (hack/cluster/images.sh); `make tools` adds cyclonus.
CLUSTER_TOOLS := prometheus alertmanager coredns kube-router versitygw
BINS ?=
TOOLS ?= $(CLUSTER_TOOLS) cyclonus

# Every Molecule scenario, one per role.
SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Create .venv with the pinned tooling and install the pinned collections
	@hack/setup.sh

.PHONY: docker
docker: ## Make sure a Docker engine answers (installs Debian's docker.io as root)
	@hack/docker-engine.sh

.PHONY: images
images: docker ## Build the local base images (debootstrap, no registry)
	@hack/images/build.sh

.PHONY: cluster-images
cluster-images: images ## Build the local cluster's node and stand-in images (needs the tools' build, not the control plane's)
	@hack/cluster/images.sh >/dev/null

.PHONY: sandbox-build
sandbox-build: ## Download or build the pinned binaries into the cache: every one, or BINS="kubectl helm ..."
	@hack/sandbox/build.sh $(BINS)

.PHONY: cluster-build
cluster-build: ## Download or build only what the clusters here run (control plane, node, etcd, kwok, kubectl: no kind or helm)
	@hack/sandbox/build.sh $(CLUSTER_BINS)

.PHONY: sandbox-up
sandbox-up: cluster-build images ## Start the local cluster (a real node + a simulated one) in a container; API on 127.0.0.1, .sandbox/kubeconfig
	@hack/cluster/up.sh

.PHONY: sandbox-down
sandbox-down: ## Remove the local cluster: container, volumes, cgroups, .sandbox
	@hack/cluster/down.sh

.PHONY: tools
tools: ## Build the pinned tools (Prometheus, Alertmanager, cyclonus, CoreDNS, kube-router, versitygw) from the Go module proxy, once (TOOLS= for some)
	@hack/tools/build.sh $(TOOLS) >/dev/null

.PHONY: cluster-tools
cluster-tools: ## Build only the tools the local cluster's images carry (all but cyclonus)
	@hack/tools/build.sh $(CLUSTER_TOOLS) >/dev/null

.PHONY: lint
lint: setup ## ansible-lint (production), yamllint, ruff, ansible-test sanity on the built collection
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	hack/sanity.sh

.PHONY: docs
docs: setup ## Write each role's variable tables into its README from meta/argument_specs.yml (aar-doc)
	@for role in roles/*/; do aar-doc --output-template hack/role_docs.md.j2 "$$role" markdown; done

.PHONY: collection
collection: setup ## Build the collection tarball (shipyard-platform-<version>.tar.gz) into .cache/collection
	ansible-galaxy collection build --force --output-path .cache/collection

.PHONY: changelog
changelog: setup ## Release notes: changelogs/fragments into changelogs/changelog.yaml and CHANGELOG.rst (VERSION=x.y.z to release)
	$(if $(VERSION),antsibull-changelog release --version $(VERSION),antsibull-changelog lint)

.PHONY: unit
unit: setup ## Unit tests (no engine, no cluster)
	pytest -q tests/unit

.PHONY: monitoring-test
monitoring-test: setup cluster-tools ## promtool/amtool checks, rule unit tests, and a real Prometheus scraping the real app
	pytest -q tests/monitoring

.PHONY: logging-test
logging-test: setup ## The app's real log lines against the logging stack's index template
	pytest -q tests/logging

.PHONY: real-pods-test
real-pods-test: setup ## On the local cluster after `make up`: the site proven on running containers (app, PostgreSQL, Prometheus, NetworkPolicies, faults)
	pytest -q --durations=25 tests/cluster

.PHONY: tenants-test
tenants-test: setup cluster-build images ## On a local cluster of its own (beside `make up`'s): converge inventories/tenants (two tenants), prove their isolation on running containers, tear down, remove it
	@hack/tenants_test.sh

.PHONY: scan
scan: setup tools ## Render every inventory's manifests: checkov (reviewed exceptions only) and the NetworkPolicy reachability matrix
	pytest -q tests/security

.PHONY: app-test
app-test: setup images ## App tests: unit, real gunicorn, real PostgreSQL, the built container
	pytest -q app/tests

.PHONY: app-run
app-run: setup ## Serve the app with its real server on 127.0.0.1:$(PORT)
	cd app && PORT=$(PORT) APP_BIND_HOST=127.0.0.1 exec gunicorn --config gunicorn.conf.py shipyard_app.wsgi:app

.PHONY: bench-app
bench-app: setup ## Throughput and p99 with metrics on vs off (wrk on loopback)
	python hack/bench_app.py $(ARGS)

# The scenario targets refuse a missing or unknown SCENARIO, naming the choices.
define scenario_given
@test -n "$(SCENARIO)" || { echo "SCENARIO is required; one of: $(SCENARIOS)" >&2; exit 2; }
@test -f molecule/$(SCENARIO)/molecule.yml || { echo "no scenario '$(SCENARIO)'; one of: $(SCENARIOS)" >&2; exit 2; }
endef

.PHONY: molecule
molecule: setup ## Run one Molecule scenario: make molecule SCENARIO=<role>
	$(scenario_given)
	molecule test -s $(SCENARIO)

.PHONY: molecule-destroy
molecule-destroy: setup ## Remove what a Molecule scenario made (hosts, its cluster): make molecule-destroy SCENARIO=<role>
	$(scenario_given)
	molecule destroy -s $(SCENARIO)

.PHONY: test
test: ## Everything, offline: lint, unit, sandbox, every Molecule scenario, end-to-end
	@python3 hack/test_all.py $(SCENARIOS)

.PHONY: up
up: setup ## Converge playbooks/site.yml on inventories/$(ENV) (ARGS= for ansible-playbook)
	@if [ -n "$(filter $(ENV),$(LOCAL_ENVS))" ]; then $(MAKE) --no-print-directory sandbox-up; fi
	ansible-playbook -i inventories/$(ENV) playbooks/site.yml $(ARGS)
	@if [ "$(ENV)" = tenants ]; then hack/cluster/check-app.sh "$${SHIPYARD_TENANT_PORT:-8081}"; \
	elif [ "$(ENV)" = sandbox ]; then hack/cluster/check-app.sh; fi

.PHONY: down
down: setup ## Remove everything the site deployed on inventories/$(ENV) (the local cluster goes too)
	@if [ -n "$(filter $(ENV),$(LOCAL_ENVS))" ] && [ ! -f .sandbox/kubeconfig ]; then \
	  echo "down: no local cluster here; nothing to remove"; hack/cluster/down.sh; exit 0; fi; \
	ansible-playbook -i inventories/$(ENV) playbooks/teardown.yml -e shipyard_teardown_confirm=yes $(ARGS); \
	if [ -n "$(filter $(ENV),$(LOCAL_ENVS))" ]; then hack/cluster/down.sh; fi; \
	echo "down: the site is removed from inventories/$(ENV)"

.PHONY: backup
backup: setup ## Back the app's database up now on inventories/$(ENV); prints the archive's name
	ansible-playbook -i inventories/$(ENV) playbooks/backup.yml $(ARGS)

ARCHIVE ?=
.PHONY: restore
restore: setup ## Restore the app's database on inventories/$(ENV) from ARCHIVE (default: the newest); stops the app meanwhile
	ansible-playbook -i inventories/$(ENV) playbooks/restore.yml -e shipyard_restore_confirm=yes \
	  $(if $(ARCHIVE),-e app_deploy_restore_archive=$(ARCHIVE)) $(ARGS)

OUT ?= out/$(ENV)
.PHONY: render
render: setup ## Write every manifest the site would apply for ENV to OUT (no cluster)
	ansible-playbook -i inventories/$(ENV) playbooks/render.yml -e shipyard_render_dir=$(abspath $(OUT))
	@echo "rendered: $$(find $(OUT) -name '*.yml' | wc -l) files in $(OUT); requests of the workloads:"
	@python hack/footprint.py $(OUT)

.PHONY: artifacts
artifacts: setup ## List every image and binary inventories/$(ENV) uses, with versions, digests, sha256 (out/ENV/artifacts.json)
	@python hack/artifacts.py $(ENV)

.PHONY: bench
bench: setup cluster-build images ## Time a first converge, a no-op rerun and kubectl apply --server-side on fresh local clusters, judged on the medians of ROUNDS rounds (3; ENV=tenants: two tenants)
	@BENCH_ROUNDS=$(ROUNDS) hack/bench.sh $(ENV)

.PHONY: clean
clean: ## Remove local state (.venv link, .cache, .sandbox); the shared cache stays
	-@hack/cluster/down.sh
	rm -rf .venv .cache collections/ansible_collections
