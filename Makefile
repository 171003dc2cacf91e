# The two commands a newcomer needs: `make run` and `make test`.
# Everything is installed into .venv from nothing; only python3 and make are assumed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# A real IRC client for the IRC end-to-end test: Debian's weechat-headless,
# installed here if the machine lacks it and make runs as root (as CI does);
# otherwise make stops and names it (the test fails, never skips, without it).
WEECHAT := /usr/bin/weechat-headless

# A real browser for the web page's end-to-end test: Debian's chromium, driven
# by Playwright's Python package (never its own browser download); the same rule.
CHROMIUM := /usr/bin/chromium

# HAProxy, in front of a cluster's nodes for the test of the PROXY protocol
# (tests/cluster/test_nodes.py): the same rule.
HAPROXY := /usr/sbin/haproxy

# A third-party web IRC client for the web door's test: irc-framework (the
# library Kiwi IRC is built on), from npm, as package-lock.json pins it.
NODE_DEPS := tests/web/node/node_modules/.installed

.PHONY: run test check lint typecheck clean soak bench bench-smoke services

# `make run`: the server in the foreground, on the embedded defaults; it logs where to connect.
# LISTEN, IRC, WEB and RUN_ARGS (more twistd chat options) may be given: make run LISTEN=tcp:8889.
# No pidfile: a second `make run` in this checkout is refused by its port, in one line. The
# shell outlives Ctrl-C (trap) and ends quietly, so make has nothing to report: neither
# "Interrupt" nor an error after the server's own one line (make run then exits 0).
LISTEN ?= tcp:8888
IRC ?= tcp:6667
WEB ?= tcp:8080
RUN_ARGS ?=
run: $(STAMP)
	@trap : INT TERM; $(BIN)/twistd --pidfile= -n chat --listen $(LISTEN) --irc $(IRC) --web $(WEB) $(RUN_ARGS) || true

test: $(STAMP) $(WEECHAT) $(CHROMIUM) $(HAPROXY) $(NODE_DEPS) services
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m twisted.trial tests
	$(BIN)/coverage combine -q
	$(BIN)/coverage report
	$(MAKE) lint typecheck

# The soak test: 1 000 clients doing random things for a minute (bench/soak.py).
soak: $(STAMP)
	$(BIN)/python bench/soak.py --clients 1000 --seconds 60

# The benchmark suite (bench/run.py): chat, `floor` and `threaded` side by side, under 10 minutes.
# Results go to bench/runs/, which git ignores (BENCH_ARGS="--out bench/results" keeps them with
# the runs the documents quote); plots need matplotlib, from the `bench` extra installed here.
BENCH_STAMP := $(VENV)/.bench-stamp
bench: $(STAMP) $(BENCH_STAMP) services
	$(BIN)/python bench/run.py $(BENCH_ARGS)

$(BENCH_STAMP): pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]' --config-settings editable_mode=strict
	touch $@

# What CI runs of the benchmarks: small and short; it fails on any error or loss, never on a time.
bench-smoke: $(STAMP) services
	$(BIN)/python bench/soak.py --clients 50 --seconds 5
	$(BIN)/python bench/run.py --smoke --out "$$(mktemp -d)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# An editable install in setuptools' "strict" mode: the default mode's import
# hook hides twisted/plugins from Twisted's plugin scan (twistd would not know
# `chat`), while strict mode links the files into build/ and puts that on a
# plain .pth path, which the scan sees. It links files, not folders, so the
# install is redone whenever the list of modules (or of the web page's files) changes.
MODULES := $(VENV)/.modules
SOURCES := find chat twisted/plugins -name '*.py' -o -path 'chat/web/static/*'
$(shell mkdir -p $(VENV) && $(SOURCES) | sort | cmp -s - $(MODULES) \
	|| $(SOURCES) | sort > $(MODULES))

$(STAMP): pyproject.toml $(MODULES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=strict
	touch $@

# Each installed by its Debian package, named as its program is (as root, as CI
# runs); otherwise make test stops with one line naming what to install.
$(WEECHAT) $(CHROMIUM) $(HAPROXY):
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make test needs Debian's $(notdir $@): apt-get install $(notdir $@) (as root)"; \
		exit 1; \
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(notdir $@)

# The real PostgreSQL server the PostgreSQL store's tests use (tests/pg.py: 127.0.0.1:5432, user
# postgres without a password, as this project's machines have it), started if the machine has one
# stopped. Where make installs it (as root, with apt-get), the tests connect as a role of their own,
# chat_test, which may create databases and nothing more, let in from loopback without a password;
# without root, make stops and names the package. CHAT_TEST_POSTGRES names another server.
# Redis: the cluster's tests start redis-server processes of their own, on free loopback ports;
# make installs the package the same way when it is missing.
services:
	@if [ -n "$$CHAT_TEST_POSTGRES" ] || pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi; \
	if ! command -v pg_ctlcluster >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make test needs PostgreSQL: apt-get install postgresql (as root)"; \
			exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
		hba=$$(ls /etc/postgresql/*/main/pg_hba.conf | tail -1); \
		sed -i '1i host all chat_test 127.0.0.1/32 trust' "$$hba"; \
		created=yes; \
	fi; \
	version=$$(ls /etc/postgresql | sort -n | tail -1); \
	pg_ctlcluster --skip-systemctl-redirect "$$version" main start || \
		pg_ctlcluster --skip-systemctl-redirect "$$version" main restart; \
	for i in $$(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done; \
	if [ "$$created" = yes ]; then \
		su postgres -c "psql -q -c 'CREATE ROLE chat_test LOGIN CREATEDB'"; \
	fi; \
	pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; \
	echo "make test: PostgreSQL did not start (pg_ctlcluster $$version main start)"; exit 1
	@# The cluster's tests start redis-server processes of their own (tests/cluster/brokers.py).
	@if ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make test needs Redis: apt-get install redis-server (as root)"; \
			exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; \
	fi

$(NODE_DEPS): tests/web/node/package.json tests/web/node/package-lock.json
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make test needs Node.js 20 and npm: apt-get install nodejs npm (as root)"; \
			exit 1; \
		fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	fi
	npm ci --prefix tests/web/node --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) .coverage .coverage.* _trial_temp build *.egg-info twisted/plugins/dropin.cache
	rm -rf tests/web/node/node_modules
