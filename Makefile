# mailwarden — build.  `make` builds ./mailwarden; `make test` runs unit and
# integration tests twice: a normal build and an ASan+UBSan build.
CC      ?= cc
PKGS    := libcap libcares libpcre2-8 sqlite3 libssl libcrypto libxcrypt libnftables libnftnl libmnl libsystemd libseccomp
CSTD    := -std=c17 -D_GNU_SOURCE -DMAILWARDEN_VERSION=\"0.1.0\"
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) -Isrc $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS))

# Build flavours live in their own object trees: build/ and build-san/.
# FLAVOUR names the object tree; SAN=1 adds ASan+UBSan.
FLAVOUR ?= build
SAN     ?= 0
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# FUZZ=1 (used by `make fuzz`): libFuzzer instrumentation plus ASan+UBSan
# for the library; the harnesses link with -fsanitize=fuzzer.
FUZZ    ?= 0
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(FLAVOUR),build)
BIN     := mailwarden
else
BIN     := $(FLAVOUR)/mailwarden
endif

SRCS    := $(sort $(filter-out src/main.c,$(shell find src -name '*.c')))
LIBOBJS := $(SRCS:%.c=$(FLAVOUR)/%.o)
MAINOBJ := $(FLAVOUR)/src/main.o
UNIT    := $(wildcard tests/unit/*_test.c)
UNITBIN := $(UNIT:%.c=$(FLAVOUR)/%)

all: $(BIN)

$(BIN): $(MAINOBJ) $(FLAVOUR)/libmw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(FLAVOUR)/libmw.a: $(LIBOBJS)
	rm -f $@ && ar rcs $@ $^

$(FLAVOUR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(FLAVOUR)/tests/unit/%_test: tests/unit/%_test.c $(FLAVOUR)/libmw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

# session_test and session_fuzz share the fake I/O of tests/unit/session_fake.h
$(FLAVOUR)/tests/unit/session_test $(FLAVOUR)/fuzz/session_fuzz: tests/unit/session_fake.h

unit: $(UNITBIN)
	@set -e; for t in $(UNITBIN); do echo "== $$t"; (cd tests/unit && ../../$$t); done

PYTHON  ?= /usr/bin/python3

integ: $(BIN)
	MAILWARDEN_BIN=$(abspath $(BIN)) MW_SAN=$(SAN) $(PYTHON) -m pytest -q --durations=15 tests/integ

# fail2ban's own test logs through `mailwarden scan` (the claimed filters);
# then every filter over all of them with and without the prefilter and
# in pieces (threads): the answers must not change.
compat: $(BIN)
	$(PYTHON) tests/compat/run_fail2ban_logs.py --bin $(abspath $(BIN))
	$(PYTHON) tests/compat/prefilter_equiv.py --bin $(abspath $(BIN))

# Style gate: no unbounded string functions anywhere in src/; includes
# between folders only in the allowed directions (scripts/layers.sh).
lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' src -r --include=*.c --include=*.h
	@scripts/layers.sh

check: lint unit compat integ

test: lint
	$(MAKE) check
	$(MAKE) FLAVOUR=build-san SAN=1 check
	$(MAKE) fuzz-run FUZZ_SECONDS=10

clean:
	rm -rf build build-san build-fuzz mailwarden

# libFuzzer harnesses (tests/fuzz/README.md): `make fuzz` builds them with
# clang-14 in build-fuzz/; `make fuzz-run FUZZ_SECONDS=N` runs each for N
# seconds over its committed corpus (tests/fuzz/corpus/NAME/); a crash fails.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 10
FUZZSRC := $(wildcard tests/fuzz/*_fuzz.c)
FUZZBIN := $(FUZZSRC:tests/fuzz/%.c=$(FLAVOUR)/fuzz/%)

fuzz:
	$(MAKE) FLAVOUR=build-fuzz CC=$(FUZZ_CC) FUZZ=1 fuzz-build

fuzz-build: $(FUZZBIN)

$(FLAVOUR)/fuzz/%_fuzz: tests/fuzz/%_fuzz.c tests/fuzz/fuzz.h $(FLAVOUR)/libmw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)

fuzz-run: fuzz
	scripts/fuzz-run.sh build-fuzz/fuzz $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-build fuzz-run

-include $(LIBOBJS:.o=.d) $(MAINOBJ:.o=.d)

build-only: $(BIN) $(UNITBIN)

.PHONY: all unit integ compat lint check test clean

# bench/nft-restore.c (root, in its own network namespace): 100,000 live
# bans restored from a SQLite store into the kernel set in one libnftables
# transaction, against fail2ban's one `nft` process per ban.
bench-nft: $(FLAVOUR)/libmw.a
	@mkdir -p $(FLAVOUR)/bench
	$(CC) $(CFLAGS) -o $(FLAVOUR)/bench/nft-restore bench/nft-restore.c $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)
	$(FLAVOUR)/bench/nft-restore

# bench/warden-scale.c (no root, no network): the ban engine's memory and
# time per event with 100,000 distinct attacking addresses, and its caps.
bench-warden: $(FLAVOUR)/libmw.a
	@mkdir -p $(FLAVOUR)/bench
	$(CC) $(CFLAGS) -o $(FLAVOUR)/bench/warden-scale bench/warden-scale.c $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)
	$(FLAVOUR)/bench/warden-scale

# bench/bans-bench.c (no root, no network): the bans journal between the
# warden and the smtp engine with 100,000 bans in force.
bench-bans: $(FLAVOUR)/libmw.a
	@mkdir -p $(FLAVOUR)/bench
	$(CC) $(CFLAGS) -o $(FLAVOUR)/bench/bans-bench bench/bans-bench.c $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)
	$(FLAVOUR)/bench/bans-bench

# bench/spf_bench.c (no root, no network): CPU per SPF check, DNS cached.
bench-spf: $(FLAVOUR)/libmw.a
	@mkdir -p $(FLAVOUR)/bench
	$(CC) $(CFLAGS) -o $(FLAVOUR)/bench/spf_bench bench/spf_bench.c $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)
	$(FLAVOUR)/bench/spf_bench

# bench/flood_bench.py (root; in two network namespaces it makes and
# removes): 7,000 idle sessions and an AUTH flood from 1,000 IPv6 addresses
# while legitimate mail and logins are timed, then more slow clients than
# default_process_limit (stress mode). About 2.5 minutes.
bench-flood: $(BIN)
	MAILWARDEN_BIN=$(abspath $(BIN)) bench/flood-bench.sh

# bench/ingest_bench.py (root): 1,000,000 maillog lines appended to a
# followed file until they are in the jail's counts, mailwarden against a
# private fail2ban-server in the same run (issue 12). About 1-2 minutes.
bench-ingest: $(BIN)
	$(PYTHON) bench/ingest_bench.py --bin $(abspath $(BIN))

# bench/dkim_bench.c (no root, no network): CPU per message for DKIM
# signing (RSA-2048, Ed25519) and verifying both, 4 KB message.
bench-dkim: $(FLAVOUR)/libmw.a
	@mkdir -p $(FLAVOUR)/bench
	$(CC) $(CFLAGS) -o $(FLAVOUR)/bench/dkim-bench bench/dkim_bench.c $(FLAVOUR)/libmw.a $(LDFLAGS) $(LDLIBS)
	$(FLAVOUR)/bench/dkim-bench

# bench/verify_bench.py (root): delivered rate at 50 sessions with inbound
# DKIM+SPF+DMARC verification, mailwarden (dkim_verify) against Postfix with
# OpenDKIM + OpenDMARC milters, 3,000 messages each. About 1 minute.
bench-verify: $(BIN)
	MAILWARDEN_BIN=$(abspath $(BIN)) $(PYTHON) bench/verify_bench.py

.PHONY: bench-nft bench-warden bench-bans bench-spf bench-flood bench-ingest bench-dkim bench-verify

# Install: the program, a copy named sendmail for local submission
# (docs/local-submission.md), mailq and newaliases links, the man pages.
# The copy is made set-gid SETGID_GROUP only when that group exists and
# nothing is staged (DESTDIR empty); a package sets the bit in its
# postinst (debian/mailwarden.postinst: dpkg-statoverride). A sendmail,
# mailq or newaliases already there that is not mailwarden's (Postfix's,
# with PREFIX=/usr) is left alone, with a note.
PREFIX  ?= /usr/local
DESTDIR ?=
SETGID_GROUP ?= mwdrop
SBIN    := $(DESTDIR)$(PREFIX)/sbin
BINDIR  := $(DESTDIR)$(PREFIX)/bin
ours     = [ ! -e "$(1)" -a ! -L "$(1)" ] || grep -qa 'usage: mailwarden' "$(1)"
install: $(BIN)
	install -d $(SBIN) $(BINDIR) $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BIN) $(SBIN)/mailwarden
	@if $(call ours,$(SBIN)/sendmail); then \
		install -m 0755 $(BIN) $(SBIN)/sendmail.new && mv -f $(SBIN)/sendmail.new $(SBIN)/sendmail; \
		if [ -z "$(DESTDIR)" ] && getent group $(SETGID_GROUP) >/dev/null; then \
			chgrp $(SETGID_GROUP) $(SBIN)/sendmail && chmod 2755 $(SBIN)/sendmail; \
		else \
			echo "install: $(SBIN)/sendmail is not set-gid; as root: groupadd --system $(SETGID_GROUP); chgrp $(SETGID_GROUP) $(PREFIX)/sbin/sendmail; chmod 2755 $(PREFIX)/sbin/sendmail"; \
		fi; \
	else \
		echo "install: $(SBIN)/sendmail is not mailwarden's (Postfix's?): left alone"; \
	fi
	@for lt in mailq:sendmail newaliases:mailwarden; do \
		l=$${lt%%:*}; t=../sbin/$${lt#*:}; \
		if [ ! -e $(BINDIR)/$$l ] && [ ! -L $(BINDIR)/$$l ]; then \
			ln -s $$t $(BINDIR)/$$l; \
		elif [ "$$(readlink $(BINDIR)/$$l)" = $$t ] && { $(call ours,$(SBIN)/$${lt#*:}); }; then \
			:; \
		else \
			echo "install: $(BINDIR)/$$l is not mailwarden's: left alone"; \
		fi; \
	done
	install -m 0644 man/mailwarden.8 $(DESTDIR)$(PREFIX)/share/man/man8/mailwarden.8
	install -m 0644 man/mailwarden.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/mailwarden.conf.5

.PHONY: install
