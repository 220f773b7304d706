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
	python3-pytest python3-hypothesis \
	icinga2 nagios4-core monitoring-plugins-contrib

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

# ---------------------------------------------------------------------------
# make install / make uninstall (as root). See icinga/README.md.
#
#   /opt/check_dnsbl/                      a venv of its own with the plugin in it
#   $(PLUGINDIR)/check_dnsbl               symlink to /opt/check_dnsbl/bin/check_dnsbl
#   /etc/icinga2/conf.d/check_dnsbl/       dnsbl.conf services.conf notifications.conf
#                                          (only if /etc/icinga2 exists; ICINGA_CONFDIR= skips)
#   /etc/nagios-plugins/config/check_dnsbl.cfg   Nagios 4 command + service template
#                                          (only if that directory exists; NAGIOS_CONFDIR= skips)
# Options:
#   SYSTEM_DEPS=yes  use Debian's python3-nagiosplugin/python3-dnspython instead of
#                    fetching nagiosplugin/dnspython from PyPI (works offline)
#   CHECK_RBL=yes    also install as $(PLUGINDIR)/check_rbl (drop-in for the ITL's "rbl"
#                    command); Debian's Perl check_rbl is moved aside with dpkg-divert
# make uninstall removes exactly these (the check_rbl drop-in and diversion only if ours).
INSTALL_VENV ?= /opt/check_dnsbl
ICINGA_CONFDIR ?= $(if $(wildcard /etc/icinga2),/etc/icinga2/conf.d/check_dnsbl)
NAGIOS_CONFDIR ?= $(if $(wildcard /etc/nagios-plugins/config),/etc/nagios-plugins/config)
ICINGA_FILES := dnsbl.conf services.conf notifications.conf
SYSTEM_DEPS ?= no
CHECK_RBL ?= no
RBL_DIVERTED := $(PLUGINDIR)/check_rbl.check_rbl-perl
# INSTALL_VENV is only ever deleted when it is a venv with check_dnsbl in it.
OURS_OR_ABSENT := { [ ! -e "$(INSTALL_VENV)" ] || { [ -f "$(INSTALL_VENV)/pyvenv.cfg" ] && \
	[ -e "$(INSTALL_VENV)/bin/check_dnsbl" ]; } || \
	{ echo "$(INSTALL_VENV) exists and is not a check_dnsbl venv: not touching it"; exit 1; }; }

.PHONY: install uninstall

install:
	@test "$(SYSTEM_DEPS)" = yes || test "$(SYSTEM_DEPS)" = no || { echo "SYSTEM_DEPS=yes|no"; exit 2; }
	@if [ -e "$(PLUGINDIR)/check_dnsbl" ] && [ "$$(readlink "$(PLUGINDIR)/check_dnsbl")" != "$(INSTALL_VENV)/bin/check_dnsbl" ]; then \
		echo "$(PLUGINDIR)/check_dnsbl exists and is not ours: not touching it"; exit 1; fi
	@$(OURS_OR_ABSENT)
	rm -rf "$(INSTALL_VENV)"
	@# The venv uses /usr/bin/python3, never the dev .venv, so it outlives the checkout.
ifeq ($(SYSTEM_DEPS),yes)
	$(SYSPY) -m venv --system-site-packages "$(INSTALL_VENV)"
	"$(INSTALL_VENV)/bin/python" -m pip install -q --no-index --no-deps --no-build-isolation .
	"$(INSTALL_VENV)/bin/python" -c 'import nagiosplugin, dns.resolver'
else
	$(SYSPY) -m venv "$(INSTALL_VENV)"
	"$(INSTALL_VENV)/bin/python" -m pip install -q --no-cache-dir .
endif
	rm -rf build
	install -d "$(PLUGINDIR)"
	ln -sfn "$(INSTALL_VENV)/bin/check_dnsbl" "$(PLUGINDIR)/check_dnsbl"
ifeq ($(CHECK_RBL),yes)
	@if [ -L "$(PLUGINDIR)/check_rbl" ] && [ "$$(readlink "$(PLUGINDIR)/check_rbl")" = "$(INSTALL_VENV)/bin/check_dnsbl" ]; then :; \
	elif command -v dpkg-divert >/dev/null; then \
		dpkg-divert --local --rename --divert "$(RBL_DIVERTED)" --add "$(PLUGINDIR)/check_rbl"; \
	elif [ -e "$(PLUGINDIR)/check_rbl" ]; then \
		echo "$(PLUGINDIR)/check_rbl exists: move it aside first"; exit 1; fi
	ln -sfn "$(INSTALL_VENV)/bin/check_dnsbl" "$(PLUGINDIR)/check_rbl"
endif
ifneq ($(ICINGA_CONFDIR),)
	install -d "$(ICINGA_CONFDIR)"
	install -m 0644 $(addprefix icinga/,$(ICINGA_FILES)) "$(ICINGA_CONFDIR)/"
endif
ifneq ($(NAGIOS_CONFDIR),)
	install -d "$(NAGIOS_CONFDIR)"
	install -m 0644 icinga/nagios/check_dnsbl.cfg "$(NAGIOS_CONFDIR)/check_dnsbl.cfg"
endif
	"$(PLUGINDIR)/check_dnsbl" --version || test $$? -eq 3
	@echo "Installed. Then: icinga2 daemon -C && systemctl reload icinga2 (see icinga/README.md)"

uninstall:
	@for f in check_dnsbl check_rbl; do \
		if [ -L "$(PLUGINDIR)/$$f" ] && [ "$$(readlink "$(PLUGINDIR)/$$f")" = "$(INSTALL_VENV)/bin/check_dnsbl" ]; then \
			echo "rm $(PLUGINDIR)/$$f"; rm -f "$(PLUGINDIR)/$$f"; fi; \
	done
	@if command -v dpkg-divert >/dev/null && dpkg-divert --list "$(PLUGINDIR)/check_rbl" | grep -qF "$(RBL_DIVERTED)"; then \
		dpkg-divert --local --rename --remove "$(PLUGINDIR)/check_rbl"; fi
	@$(OURS_OR_ABSENT)
	rm -rf "$(INSTALL_VENV)"
ifneq ($(ICINGA_CONFDIR),)
	rm -f $(addprefix "$(ICINGA_CONFDIR)"/,$(ICINGA_FILES))
	rmdir "$(ICINGA_CONFDIR)" 2>/dev/null || true
endif
ifneq ($(NAGIOS_CONFDIR),)
	rm -f "$(NAGIOS_CONFDIR)/check_dnsbl.cfg"
endif

# `make bench`: check_dnsbl vs check_rbl on a loopback DNS world in a private network
# namespace (see bench/README.md). Takes about 8 minutes; BENCH_ARGS=--quick for about 1.5.
BENCH_PACKAGES := rbldnsd unbound iproute2 util-linux python3-venv monitoring-plugins-contrib \
	libmonitoring-plugin-perl libnet-dns-perl libnet-ip-perl libreadonly-perl \
	libdata-validate-ip-perl libdata-validate-domain-perl libcapture-tiny-perl
BENCH_ARGS ?=

.PHONY: bench bench-deps

bench-deps:
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt-get install $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >/dev/null; \
	fi
	@-systemctl disable --now unbound rbldnsd >/dev/null 2>&1 || true

bench: bench-deps venv
	$(VPY) -m bench.run $(BENCH_ARGS)
