# check_dnsbl: `make demo` and `make test` do all the set-up on a fresh Debian 12 (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
SYSPY := /usr/bin/python3
PLUGINDIR ?= /usr/lib/nagios/plugins
# Debian packages the suite needs: the DNS servers, Debian's own nagiosplugin and
# dnspython (the suite runs a second time on them), and pytest for that run.
APT_PACKAGES := rbldnsd unbound dnsutils python3-venv python3-nagiosplugin python3-dnspython \
	python3-pytest python3-hypothesis

.PHONY: deps venv lint unit test test-venv test-debian demo readme clean

# Install only what is missing, so repeated runs stay fast and offline-friendly.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt-get install $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# Debian's packages start these daemons; the tests start their own on loopback.
	@-systemctl disable --now unbound rbldnsd >/dev/null 2>&1 || true

$(VENV)/.stamp: setup.cfg pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e . -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(VENV)/bin/ruff check check_dnsbl tests bench
	$(VENV)/bin/ruff format --check check_dnsbl tests bench
	$(VENV)/bin/mypy check_dnsbl tests/dnsworld.py

# The suite, twice: on current PyPI releases (venv), then on Debian 12's
# python3-nagiosplugin 1.3.2 and python3-dnspython 2.3.0 (/usr/bin/python3).
test: deps venv lint test-venv test-debian

test-venv:
	$(VPY) -m pytest -q

test-debian:
	PYTHONPATH=$(CURDIR) $(SYSPY) -m pytest -q -p no:cacheprovider

demo: deps venv
	$(VPY) demo/run.py

readme: venv
	$(VPY) tools/readme.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
