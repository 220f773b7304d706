# check_dnsbl. On Debian 12, as root: `make demo`, `make test`, `make deb`.
# Without root and apt: `make check`. Packagers: `make install DESTDIR=...`.
#
# Set-up leaves the host as it was: tools/apt-install installs only missing
# Debian packages, starts no daemon while it does, and nothing here stops,
# disables or reconfigures a service (tests/test_packaging.py holds that).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
SYSPY := /usr/bin/python3
APT_INSTALL := tools/apt-install
# APT=no: use what is installed, never call apt-get (a missing tool then fails
# or, outside CI, skips its tests).
APT ?= yes
NEEDS = $(if $(filter no,$(APT)),,$(1))
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' check_dnsbl/__init__.py)

# What each target needs from Debian. The demo runs the plugin on
# /usr/bin/python3 with Debian's nagiosplugin and dnspython: no PyPI.
DEMO_PACKAGES := rbldnsd python3-nagiosplugin python3-dnspython
# -d's Public Suffix List and IDNA 2008: Debian's publicsuffix and python3-idna
# (PyPI's publicsuffixlist and idna in the venv).
DEB_PACKAGES := dpkg-dev debhelper dh-python python3-all python3-setuptools \
	pybuild-plugin-pyproject help2man python3-nagiosplugin python3-dnspython \
	python3-idna publicsuffix lintian
# check_dnsbl_bounces' end-to-end test runs two Postfix instances in a private
# network namespace (tests/postfixworld.py). Postfix itself is Debian's postfix
# package unpacked into $(POSTFIX_DIR) by tools/postfix-unpack and never
# installed, so an MTA the host has (exim4, or its own Postfix) is never
# replaced; these are the tools and the libraries its binaries need.
POSTFIX_TEST_PACKAGES := util-linux iproute2 libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3
POSTFIX_DIR := build/postfix
# The suite: the DNS servers, both monitoring cores, the deb build, and
# Debian's own pytest/hypothesis/twine for the run on /usr/bin/python3;
# libfaketime puts the cluster test's icinga2 master past its cold start;
# graphite-carbon and graphite-web (with its Django) are the real Graphite of
# tests/test_graphite.py, run on loopback with private configs (never /etc/carbon
# or /etc/graphite; tools/apt-install starts neither daemon).
TEST_PACKAGES := $(sort $(DEMO_PACKAGES) $(DEB_PACKAGES) unbound dnsutils python3-venv \
	python3-pytest python3-hypothesis twine icinga2 nagios4-core monitoring-plugins-contrib \
	libfaketime graphite-carbon graphite-web $(POSTFIX_TEST_PACKAGES))

LINT := $(VENV)/bin/ruff check check_dnsbl tests bench tools demo \
	&& $(VENV)/bin/ruff format --check check_dnsbl tests bench tools demo \
	&& $(VENV)/bin/mypy check_dnsbl tests/dnsworld.py tests/dnsrelay.py tests/faultservers.py \
		tests/conftest.py tests/delivery.py tests/test_packaging.py tests/icinga_harness.py \
		tests/test_cluster.py tests/postfixworld.py tests/graphite_harness.py tests/test_graphite.py \
		bench demo/run.py \
		tools/readme.py tools/debchangelog.py

.PHONY: help deps demo-deps deb-deps postfix venv lint test test-venv test-debian check demo \
	readme deb dist clean

help:
	@echo "make demo     run the plugin against demo DNSBL zones on loopback (root on Debian 12)"
	@echo "make test     install what the suite needs, lint, run it on PyPI's and Debian's libraries"
	@echo "make postfix  unpack (never install) Debian's postfix for the bounces end-to-end test"
	@echo "make check    lint and test with what is installed: no root, no apt"
	@echo "make deb      dist/check-dnsbl_$(VERSION)_all.deb (debhelper, dh-python)"
	@echo "make dist     sdist and wheel in dist/, checked by twine (PyPI tools in $(VENV))"
	@echo "make install  DESTDIR= PLUGINDIR= LIBDIR= SYSTEM_DEPS=yes|no CHECK_RBL=yes|no"
	@echo "APT=no        demo, test, deb, bench: use what is installed, never apt-get"
	@echo "make bench    check_dnsbl against check_rbl (see bench/README.md)"

deps:
	$(APT_INSTALL) $(TEST_PACKAGES)

postfix:
	tools/postfix-unpack $(POSTFIX_DIR)

demo-deps:
	$(APT_INSTALL) --no-install-recommends $(DEMO_PACKAGES)

deb-deps:
	$(APT_INSTALL) --no-install-recommends $(DEB_PACKAGES)

$(VENV)/.stamp: setup.cfg pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e . -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(LINT)

# The suite, twice: on current PyPI releases (venv), then on Debian 12's
# python3-nagiosplugin 1.3.2 and python3-dnspython 2.3.0 (/usr/bin/python3).
# The end-to-end tests with real daemons (-m e2e: icinga2, an icinga2 cluster,
# Postfix) run once, in the second pass: the .deb runs the plugin that way.
test: $(call NEEDS,deps) $(call NEEDS,postfix) venv lint test-venv test-debian

test-venv:
	$(VPY) -m pytest -q -m "not e2e"

test-debian:
	PYTHONPATH=$(CURDIR) $(SYSPY) -m pytest -q -p no:cacheprovider

# For contributors: no root, no apt, no PyPI. Lints and tests with what is
# there (the venv if made, /usr/bin/python3 if it has pytest and the plugin's
# libraries); tests whose tools are missing skip. Under CI=true nothing may
# be missing: a skip there is a failure (tests/dnsworld.py's require_tool too).
SUITE_NEEDS := pytest, hypothesis, nagiosplugin, dnspython, idna or a Public Suffix List \
	(publicsuffix, publicsuffixlist)
check:
	@ran=0; missing() { echo "make check: $$1"; if [ "$$CI" = true ]; then exit 1; fi; }; \
	if [ -x $(VENV)/bin/ruff ] && [ -x $(VENV)/bin/mypy ]; then \
		echo "lint ($(VENV))"; $(LINT); \
	else missing "no lint: no $(VENV) with ruff and mypy (make venv)"; fi; \
	for py in $(VPY) $(SYSPY); do \
		if [ -x $$py ] && PYTHONPATH=$(CURDIR) $$py -c 'import pytest, hypothesis, nagiosplugin, \
			dns, idna; from check_dnsbl import publicsuffix; publicsuffix.load()' 2>/dev/null; then \
			echo "pytest on $$py"; PYTHONPATH=$(CURDIR) $$py -m pytest -q -p no:cacheprovider; ran=1; \
		else missing "no tests on $$py: it lacks $(SUITE_NEEDS)"; fi; \
	done; \
	[ $$ran = 1 ] || { echo "make check: no interpreter can run the suite"; exit 1; }

demo: $(call NEEDS,demo-deps)
	$(SYSPY) demo/run.py

readme: venv
	$(VPY) tools/readme.py

# ---------------------------------------------------------------------------
# Distribution: sdist and wheel (PyPI), and the Debian package.

# PEP 517 with isolation (fetches setuptools from PyPI), then twine's checks.
dist: venv
	$(VPY) -m build --outdir dist .
	$(VPY) -m twine check --strict dist/check_dnsbl-$(VERSION).tar.gz dist/check_dnsbl-$(VERSION)-*.whl

# Built from the sdist, as a distribution builds from the release tarball, with
# Debian's setuptools and no network, on /usr/bin alone (not a python3 of
# pyenv or a venv earlier in PATH); debian/changelog comes from CHANGELOG.md.
DEB_DIR := build/deb
DEB := dist/check-dnsbl_$(VERSION)_all.deb

deb: $(call NEEDS,deb-deps)
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR) dist
	$(SYSPY) -c 'import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])' \
		$(DEB_DIR) >$(DEB_DIR)/sdist.log
	tar -xzf $(DEB_DIR)/check_dnsbl-$(VERSION).tar.gz -C $(DEB_DIR)
	cd $(DEB_DIR)/check_dnsbl-$(VERSION) && $(SYSPY) tools/debchangelog.py >debian/changelog \
		&& PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -b --no-sign
	mv $(DEB_DIR)/check-dnsbl_$(VERSION)_all.deb $(DEB)
	@echo "$(DEB) (lintian $(DEB) checks it)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis

# ---------------------------------------------------------------------------
# make install / make uninstall. Every path is under $(DESTDIR), so a packager
# can stage (make install DESTDIR=/stage); without it, as root, into the live
# system. See icinga/README.md.
#
#   $(LIBDIR)/                     the check_dnsbl package (and, unless
#                                  SYSTEM_DEPS=yes, its libraries from PyPI)
#   $(PLUGINDIR)/check_dnsbl       the plugin: /usr/bin/python3 with $(LIBDIR) first on sys.path
#   $(PLUGINDIR)/check_dnsbl_bounces  the second plugin, likewise
#   $(ICINGA_CONFDIR)/             dnsbl.conf services.conf notifications.conf
#                                  (with DESTDIR, or if /etc/icinga2 exists; ICINGA_CONFDIR= skips)
#   $(NAGIOS_CONFDIR)/check_dnsbl.cfg   Nagios 4 command + service template
#                                  (with DESTDIR, or if that directory exists; NAGIOS_CONFDIR= skips)
# Options:
#   SYSTEM_DEPS=yes  use Debian's python3-nagiosplugin, python3-dnspython, python3-idna
#                    and publicsuffix instead of fetching nagiosplugin, dnspython, idna
#                    and publicsuffixlist from PyPI (works offline)
#   CHECK_RBL=yes    also install as $(PLUGINDIR)/check_rbl (drop-in for the ITL's "rbl"
#                    command); Debian's Perl check_rbl is moved aside with dpkg-divert.
#                    Not with DESTDIR: a diversion is the package's job (postinst).
# make uninstall (same variables) removes exactly these, each only if it is ours.
DESTDIR ?=
PLUGINDIR ?= /usr/lib/nagios/plugins
LIBDIR ?= /opt/check_dnsbl
ICINGA_CONFDIR ?= $(if $(DESTDIR)$(wildcard /etc/icinga2),/etc/icinga2/conf.d/check_dnsbl)
NAGIOS_CONFDIR ?= $(if $(DESTDIR)$(wildcard /etc/nagios-plugins/config),/etc/nagios-plugins/config)
ICINGA_FILES := dnsbl.conf services.conf notifications.conf dnsbl-bounces.conf bounces-services.conf
SYSTEM_DEPS ?= no
CHECK_RBL ?= no
PIP_VENV := build/pip
PLUGIN := $(DESTDIR)$(PLUGINDIR)/check_dnsbl
BOUNCES := $(DESTDIR)$(PLUGINDIR)/check_dnsbl_bounces
LIB := $(DESTDIR)$(LIBDIR)
RBL_DIVERTED := $(PLUGINDIR)/check_rbl.check_rbl-perl
MARK := \# check_dnsbl launcher, written by make install
# What make install writes; make uninstall deletes only that (or what an older
# make install wrote: a venv in LIBDIR, the plugin a symlink into it).
OURS_OR_ABSENT := { [ ! -e "$(LIB)" ] || ls -d "$(LIB)"/check_dnsbl-*.dist-info >/dev/null 2>&1 || \
	{ [ -f "$(LIB)/pyvenv.cfg" ] && [ -e "$(LIB)/bin/check_dnsbl" ]; } || \
	{ echo "$(LIB) exists and is not check_dnsbl's: not touching it"; exit 1; }; }
PLUGIN_OURS := { grep -qxF "$(MARK)" "$(PLUGIN)" 2>/dev/null || \
	[ "$$(readlink "$(PLUGIN)")" = "$(LIBDIR)/bin/check_dnsbl" ]; }
PIP_FLAGS := $(if $(filter yes,$(SYSTEM_DEPS)),--no-deps --no-index --no-build-isolation)

.PHONY: install uninstall

# pip only runs from a throwaway venv (/usr/bin/python3 is externally managed,
# PEP 668); it sees Debian's setuptools and wheel for SYSTEM_DEPS=yes (offline).
$(PIP_VENV)/bin/pip:
	$(SYSPY) -m venv --system-site-packages $(PIP_VENV)

install: $(PIP_VENV)/bin/pip
	@case "$(SYSTEM_DEPS)" in yes|no) ;; *) echo "SYSTEM_DEPS=yes|no"; exit 2;; esac
	@case "$(CHECK_RBL)$(if $(DESTDIR),+destdir)" in yes+destdir) \
		echo "CHECK_RBL=yes with DESTDIR: divert check_rbl in the package's postinst"; exit 2;; esac
	@if [ -e "$(PLUGIN)" ] && ! $(PLUGIN_OURS); then \
		echo "$(PLUGIN) exists and is not ours: not touching it"; exit 1; fi
	@if [ -e "$(BOUNCES)" ] && ! grep -qxF "$(MARK)" "$(BOUNCES)"; then \
		echo "$(BOUNCES) exists and is not ours: not touching it"; exit 1; fi
	@$(OURS_OR_ABSENT)
	rm -rf "$(LIB)"
	$(PIP_VENV)/bin/pip install -q --no-compile --target "$(LIB)" $(PIP_FLAGS) .
	rm -rf "$(LIB)/bin"
	$(SYSPY) -m compileall -q -d "$(LIBDIR)" "$(LIB)"
	install -d "$(DESTDIR)$(PLUGINDIR)"
	rm -f "$(PLUGIN)"
	printf '%s\n' '#!$(SYSPY)' '$(MARK)' 'import sys' 'sys.path.insert(0, "$(LIBDIR)")' \
		'from check_dnsbl.cli import main' 'main()' >"$(PLUGIN)"
	chmod 0755 "$(PLUGIN)"
	rm -f "$(BOUNCES)"
	printf '%s\n' '#!$(SYSPY)' '$(MARK)' 'import sys' 'sys.path.insert(0, "$(LIBDIR)")' \
		'from check_dnsbl.bounces.cli import main' 'main()' >"$(BOUNCES)"
	chmod 0755 "$(BOUNCES)"
ifeq ($(CHECK_RBL),yes)
	@if [ -L "$(PLUGINDIR)/check_rbl" ] && [ "$$(readlink "$(PLUGINDIR)/check_rbl")" = check_dnsbl ]; then :; \
	elif command -v dpkg-divert >/dev/null; then \
		dpkg-divert --local --rename --divert "$(RBL_DIVERTED)" --add "$(PLUGINDIR)/check_rbl"; \
	elif [ -e "$(PLUGINDIR)/check_rbl" ]; then \
		echo "$(PLUGINDIR)/check_rbl exists: move it aside first"; exit 1; fi
	ln -sfn check_dnsbl "$(PLUGINDIR)/check_rbl"
endif
ifneq ($(ICINGA_CONFDIR),)
	install -d "$(DESTDIR)$(ICINGA_CONFDIR)"
	install -m 0644 $(addprefix icinga/,$(ICINGA_FILES)) "$(DESTDIR)$(ICINGA_CONFDIR)/"
endif
ifneq ($(NAGIOS_CONFDIR),)
	install -d "$(DESTDIR)$(NAGIOS_CONFDIR)"
	install -m 0644 icinga/nagios/check_dnsbl.cfg "$(DESTDIR)$(NAGIOS_CONFDIR)/check_dnsbl.cfg"
endif
ifeq ($(DESTDIR),)
	"$(PLUGIN)" --version || test $$? -eq 3
	@echo "Installed. Then validate (icinga2 daemon -C) and reload Icinga 2: see icinga/README.md"
endif

uninstall:
	@if [ -e "$(PLUGIN)" ] && $(PLUGIN_OURS); then echo "rm $(PLUGIN)"; rm -f "$(PLUGIN)"; fi
	@if grep -qxF "$(MARK)" "$(BOUNCES)" 2>/dev/null; then echo "rm $(BOUNCES)"; rm -f "$(BOUNCES)"; fi
	@rbl="$(DESTDIR)$(PLUGINDIR)/check_rbl"; if [ -L "$$rbl" ] && \
		case "$$(readlink "$$rbl")" in check_dnsbl|$(LIBDIR)/bin/check_dnsbl) true;; *) false;; esac; \
		then echo "rm $$rbl"; rm -f "$$rbl"; fi
ifeq ($(DESTDIR),)
	@if command -v dpkg-divert >/dev/null && dpkg-divert --list "$(PLUGINDIR)/check_rbl" | grep -qF "$(RBL_DIVERTED)"; then \
		dpkg-divert --local --rename --remove "$(PLUGINDIR)/check_rbl"; fi
endif
	@$(OURS_OR_ABSENT)
	rm -rf "$(LIB)"
ifneq ($(ICINGA_CONFDIR),)
	rm -f $(addprefix "$(DESTDIR)$(ICINGA_CONFDIR)"/,$(ICINGA_FILES))
	rmdir "$(DESTDIR)$(ICINGA_CONFDIR)" 2>/dev/null || true
endif
ifneq ($(NAGIOS_CONFDIR),)
	rm -f "$(DESTDIR)$(NAGIOS_CONFDIR)/check_dnsbl.cfg"
endif

# `make bench`: check_dnsbl vs check_rbl on a loopback DNS world in a private network
# namespace (see bench/README.md). Takes about 8 minutes; BENCH_ARGS=--quick for about 1.5.
BENCH_PACKAGES := rbldnsd unbound iproute2 util-linux python3-venv monitoring-plugins-contrib \
	libmonitoring-plugin-perl libnet-dns-perl libnet-ip-perl libreadonly-perl \
	libdata-validate-ip-perl libdata-validate-domain-perl libcapture-tiny-perl
BENCH_ARGS ?=

.PHONY: bench bench-deps

bench-deps:
	$(APT_INSTALL) --no-install-recommends $(BENCH_PACKAGES)

bench: $(call NEEDS,bench-deps) venv
	$(VPY) -m bench.run $(BENCH_ARGS)
