# waveguard — plain GNU make. `make check` installs what it needs (tools/install-deps) first.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DESTDIR ?=
MANDIR ?= $(PREFIX)/share/man
# Where this system's systemd looks for packaged units: /lib/systemd/system on Debian 12.
UNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
MANPAGES := man/waveguard.8 man/waveguard.conf.5
VERSION := 0.1.0

CC ?= cc
LIBS_PC := libsystemd libpcre2-8 libnftnl libmnl inih hiredis libsodium
# Lazy on purpose: pkg-config must run after tools/install-deps has installed the -dev packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(LIBS_PC))
PKG_LIBS = $(shell pkg-config --libs $(LIBS_PC)) -lm
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -DWAVEGUARD_VERSION=\"$(VERSION)\" \
	-DSYSCONFDIR=\"$(SYSCONFDIR)\" $(PKG_CFLAGS) $(CFLAGS)

# BUILD selects an output tree so that the sanitizer build never mixes with the normal one.
BUILD ?= build
SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(BUILD)/main.o,$(OBJS))
TESTS := $(patsubst test/%.c,%,$(wildcard test/check_*.c))
TEST_BINS := $(addprefix $(BUILD)/,$(TESTS))
STAMP := .deps-installed

.PHONY: all check unit integration asan install uninstall clean deps run bench perms man deb demo bench-courier \
	format format-check fuzz fuzz-build fuzz-smoke

all: $(BUILD)/waveguard

$(STAMP): tools/install-deps
	./tools/install-deps
	@touch $@

deps: $(STAMP)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(STAMP)
	@mkdir -p $(BUILD)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libwaveguard.a: $(LIB_OBJS)
	@$(AR) rcs $@ $^

$(BUILD)/waveguard: $(BUILD)/main.o $(BUILD)/libwaveguard.a
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

# Test helpers (test/NAME.c + test/NAME.h, not part of the daemon): a check binary that needs
# one lists its object below, and links every object among its prerequisites.
$(BUILD)/test/%.o: test/%.c test/%.h $(wildcard src/*.h) | $(STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/check_ban_nft: $(BUILD)/test/nftlist.o

$(BUILD)/check_%: test/check_%.c test/testutil.h $(BUILD)/libwaveguard.a | $(STAMP)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Isrc -o $@ $< $(filter %.o,$^) \
		$(BUILD)/libwaveguard.a $(CHECK_LIBS) $(PKG_LIBS) $(LDFLAGS)

# Config files and their directories drive a root daemon and are refused when group/world-
# writable or owned by another user than root (or the one running it): a checkout made under a
# lax umask must not fail for that reason; one owned by someone else is said to be refused.
CONF_FILES = waveguard.conf trap-recipients $(wildcard conf.d/*.conf filters/*.conf actions/*.conf)
CONF_DIRS = . conf.d filters actions
perms:
	@chmod go-w $(CONF_FILES) $(CONF_DIRS)
	@owner=$$(stat -c %u waveguard.conf); if [ "$$owner" != 0 ] && [ "$$owner" != "$$(id -u)" ]; then \
		echo "warning: the checkout is owned by uid $$owner: waveguard refuses it as a" \
			"configuration directory when run as uid $$(id -u)" >&2; fi

unit: $(TEST_BINS) perms
	@set -e; for t in $(TEST_BINS); do \
		rc=0; CK_DEFAULT_TIMEOUT=120 WAVEGUARD_SRCDIR=$(CURDIR) $$t || rc=$$?; \
		if [ $$rc = 77 ]; then echo "$$t: skipped"; elif [ $$rc != 0 ]; then exit $$rc; fi; done

# Small programs the integration scripts drive (a TCP client/listener, systemd's notify side).
$(BUILD)/tcpprobe $(BUILD)/notify-listen $(BUILD)/courier-client: $(BUILD)/%: test/%.c | $(STAMP)
	@mkdir -p $(BUILD)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)

integration: $(BUILD)/waveguard $(BUILD)/tcpprobe $(BUILD)/notify-listen $(BUILD)/courier-client perms
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard NOTIFY_LISTEN=$(CURDIR)/$(BUILD)/notify-listen \
		./test/run-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard TCPPROBE=$(CURDIR)/$(BUILD)/tcpprobe \
		./test/run-nft-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard TCPPROBE=$(CURDIR)/$(BUILD)/tcpprobe \
		./test/run-admin-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard ./test/run-chaos
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard ./test/run-journal-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard ./test/run-packaging
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard ./test/run-fleet-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard ./test/run-dnsbl-integration
	@WAVEGUARD=$(CURDIR)/$(BUILD)/waveguard TCPPROBE=$(CURDIR)/$(BUILD)/tcpprobe \
		COURIER_CLIENT=$(CURDIR)/$(BUILD)/courier-client ./test/run-courier-e2e

# A spam wave against a real Courier in private namespaces, with a live summary; the history
# chart lands in $(BUILD)/demo/history.svg. Changes nothing outside its namespaces.
demo: $(BUILD)/waveguard $(BUILD)/tcpprobe $(BUILD)/courier-client perms
	@BUILD=$(CURDIR)/$(BUILD) ./demo/run

# The same wave with waveguard and with --dry-run, side by side (about 4.5 minutes).
bench-courier: $(BUILD)/waveguard $(BUILD)/tcpprobe $(BUILD)/courier-client perms
	@BUILD=$(CURDIR)/$(BUILD) ./bench/courier-wave

# The code style is .clang-format's (Debian 12's clang-format 14): `make format` applies it,
# `make check` refuses a tree that drifts from it.
FORMAT_FILES = $(wildcard src/*.c src/*.h test/*.c test/*.h test/fuzz/*.c bench/*.c)
format: | $(STAMP)
	clang-format -i $(FORMAT_FILES)

format-check: | $(STAMP)
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: $(words $(FORMAT_FILES)) files as .clang-format says"

# libFuzzer targets (test/fuzz/fuzz_*.c, clang): `make fuzz` runs each for FUZZ_SECONDS on its
# seed corpus (test/fuzz/corpus/NAME, new finds go to build-fuzz/corpus/NAME); `make check`
# runs each for 15 s where clang is installed, and says it skipped them where it is not.
# Crashes are written to $(FUZZ_BUILD)/crash-*, never into the tree.
FUZZ_BUILD := build-fuzz
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
fuzz-build: | $(STAMP)
	@$(MAKE) -s BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_BUILD)/libwaveguard.a
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "  FUZZ    $(FUZZ_BUILD)/$$t"; \
		clang -std=gnu11 -D_GNU_SOURCE -DWAVEGUARD_SRCDIR=\"$(CURDIR)\" -Isrc $(PKG_CFLAGS) \
			-O1 -g -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/$$t \
			test/fuzz/$$t.c $(FUZZ_BUILD)/libwaveguard.a $(PKG_LIBS); \
	done

fuzz: fuzz-build perms
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$${t#fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/ \
			$(FUZZ_BUILD)/corpus/$$n test/fuzz/corpus/$$n 2>$(FUZZ_BUILD)/$$t.log || \
			{ tail -n 40 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' $(FUZZ_BUILD)/$$t.log | sed "s/^/  $$t: /"; \
	done

fuzz-smoke:
	@if command -v clang >/dev/null 2>&1; then $(MAKE) -s fuzz FUZZ_SECONDS=15; \
	else echo "fuzz: skipped (no clang; apt-get install clang for make fuzz)"; fi

check: format-check unit fuzz-smoke integration

# The same tests against an AddressSanitizer + UndefinedBehaviorSanitizer build.
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all" LDFLAGS="-fsanitize=address,undefined" check

run: $(BUILD)/waveguard perms
	./$(BUILD)/waveguard -c . run

bench: $(BUILD)/waveguard
	./bench/run
	./bench/bans
	./bench/idle
	./bench/sample
	./bench/journal
	./bench/fleet

# An admin's edited configuration file is never overwritten: the new one lands beside it as
# FILE.dist (as Debian's dpkg would ask). Unchanged files are simply updated.
CONFDIR = $(DESTDIR)$(SYSCONFDIR)/waveguard
install: $(BUILD)/waveguard
	install -D -m 0755 $(BUILD)/waveguard $(DESTDIR)$(SBINDIR)/waveguard
	install -d -m 0755 $(CONFDIR) $(CONFDIR)/conf.d $(CONFDIR)/filters $(CONFDIR)/actions
	@for f in $(CONF_FILES); do \
		if [ -e "$(CONFDIR)/$$f" ] && ! cmp -s "$$f" "$(CONFDIR)/$$f"; then \
			install -m 0644 "$$f" "$(CONFDIR)/$$f.dist"; \
			echo "kept your $(CONFDIR)/$$f; the new one is $$f.dist"; \
		else \
			install -m 0644 "$$f" "$(CONFDIR)/$$f"; \
		fi; \
	done
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/sbin/waveguard |ExecStart=$(SBINDIR)/waveguard |' \
		systemd/waveguard.service >$(DESTDIR)$(UNITDIR)/waveguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/waveguard.service
	install -D -m 0644 man/waveguard.8 $(DESTDIR)$(MANDIR)/man8/waveguard.8
	install -D -m 0644 man/waveguard.conf.5 $(DESTDIR)$(MANDIR)/man5/waveguard.conf.5

# Removes the program and the configuration files that are still as shipped; edited ones, the
# state directory and the nftables table (waveguard nft-cleanup) stay.
uninstall:
	@for f in $(CONF_FILES); do \
		if cmp -s "$$f" "$(CONFDIR)/$$f"; then rm -f "$(CONFDIR)/$$f"; fi; \
		rm -f "$(CONFDIR)/$$f.dist"; \
	done
	-rmdir $(CONFDIR)/conf.d $(CONFDIR)/filters $(CONFDIR)/actions $(CONFDIR) 2>/dev/null
	rm -f $(DESTDIR)$(SBINDIR)/waveguard
	rm -f $(DESTDIR)$(UNITDIR)/waveguard.service \
		$(DESTDIR)$(MANDIR)/man8/waveguard.8 $(DESTDIR)$(MANDIR)/man5/waveguard.conf.5

# The man pages are hand-written roff (no build step): check that they format without a
# warning, and show where they are.
man:
	groff -ww -man -z $(MANPAGES)
	@echo "man -l man/waveguard.8   man -l man/waveguard.conf.5"

# The Debian package, built from a copy of the working tree so that the checkout stays clean:
# the files git sees, uncommitted changes included, ignored ones (build trees, bench/out) left
# out. Needs debhelper; the .deb lands in $(BUILD)/deb/.
deb: $(STAMP)
	@command -v dh >/dev/null || { echo "make deb: needs debhelper" \
		"(apt-get install --no-install-recommends debhelper)" >&2; exit 1; }
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	if git rev-parse --git-dir >/dev/null 2>&1; then \
		git ls-files -co --exclude-standard | while read -r f; do [ ! -e "$$f" ] || echo "$$f"; done | \
			tar -c -T - | tar -x -C $(BUILD)/deb/src; \
	else \
		tar -c --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude=./bench/out \
			--exclude=./.deps-installed . | tar -x -C $(BUILD)/deb/src; \
	fi
	cd $(BUILD)/deb/src && DEB_BUILD_OPTIONS="nocheck noddebs" dpkg-buildpackage -us -uc -b
	rm -rf $(BUILD)/deb/src
	@ls -l $(BUILD)/deb/*.deb

clean:
	rm -rf build build-asan build-fuzz
