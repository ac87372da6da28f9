# convo: SMS conversation filters. GNU make.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DESTDIR ?=

CC ?= gcc
CFLAGS ?= -O2 -g
PKGS = libpq libbsd-overlay libcurl libutf8proc libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libjq 1.6 cannot report its version and Debian 12 ships no libjq.pc;
# --version shows the one pkg-config knows at build time, if any.
JQ_VERSION := $(shell pkg-config --modversion libjq 2>/dev/null)
JQ_CFLAGS = $(if $(JQ_VERSION),-DCONVO_JQ_VERSION=\"$(JQ_VERSION)\")

# Output directory, with a trailing slash: empty builds in place, and
# O=$(ASAN_DIR)/ builds with AddressSanitizer and UBSan (make asan).
O =
ASAN_DIR = build/asan
SANITIZER_CFLAGS =
SANITIZER_LDFLAGS =
ifeq ($(O),$(ASAN_DIR)/)
SANITIZER_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
# With GCC's shared runtimes, UBSan ignores the log_path of UBSAN_OPTIONS
# and reports on standard error; linked statically, it follows it.
SANITIZER_LDFLAGS = -static-libasan -static-libubsan
endif

# Warnings come last so that a user's CFLAGS cannot turn them off.
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(PKG_CFLAGS) -Ilib \
	-DCONVO_DATADIR=\"$(DATADIR)/convo\" $(JQ_CFLAGS) $(CFLAGS) \
	$(SANITIZER_CFLAGS) \
	-Wall -Wextra -Werror
# --as-needed leaves out the libraries a program does not call, such as
# libcurl and its dependencies in convo-list and convo-read, whose start-up
# it would otherwise slow down.
ALL_LDFLAGS = $(LDFLAGS) $(SANITIZER_LDFLAGS) -Wl,--as-needed
LDLIBS = $(PKG_LIBS) -ljq -lm

PROGS = convo-ingest convo-list convo-read convo-db convo-send convo-keywords \
	convo-mark convo-webhook
BINS = $(addprefix $(O)bin/,$(PROGS))
LIB_SRCS = $(wildcard lib/*.c)
LIB_OBJS = $(addprefix $(O),$(LIB_SRCS:.c=.o))
LIB = $(O)lib/libconvo.a
UNIT_SRCS = $(wildcard tests/unit/*_test.c)
UNITS = $(addprefix $(O),$(UNIT_SRCS:.c=))
# A local fake of the Twilio Messages API for the bats suite.
FAKE = $(O)tests/fake-twilio
MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)
# Example scripts are installed executable, the other examples not.
EXAMPLE_SCRIPTS = share/convo/examples/bulk-reply \
	share/convo/examples/export-thread
EXAMPLE_FILES = $(filter-out $(EXAMPLE_SCRIPTS),$(wildcard share/convo/examples/*))
BASHCOMPDIR = $(DATADIR)/bash-completion/completions
ZSHCOMPDIR = $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR = $(DATADIR)/fish/vendor_completions.d

all: $(BINS)

$(O)lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(O)bin/%: bin/%.c $(LIB) lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(O)tests/unit/%_test: tests/unit/%_test.c tests/unit/unit.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(FAKE): tests/fake-twilio.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ tests/fake-twilio.c

# The crash and concurrency tests generate their input with the
# benchmarks' event generator.
units: $(UNITS) $(FAKE) bench/gen-events

# The programs, unit tests and fake-twilio again under $(ASAN_DIR),
# built with AddressSanitizer and UBSan. The programs find the
# migrations in share/ beside their bin/, as in the source tree.
asan:
	$(MAKE) O=$(ASAN_DIR)/ all units
	ln -sfn $(CURDIR)/share $(ASAN_DIR)/share

# Every pass with one count at the end: the suite, the suite again with
# the sanitizer build, and the unit tests under valgrind.
check: all units asan
	tests/check

# The unit tests print TAP; the bats suite starts its own PostgreSQL.
check-normal: all units
	tests/run

check-asan: asan
	CONVO_BUILD=$(ASAN_DIR) tests/run

check-valgrind: units
	tests/valgrind

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/convo/migrations \
		$(DESTDIR)$(DATADIR)/convo/sample \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 share/convo/migrations/*.sql \
		$(DESTDIR)$(DATADIR)/convo/migrations
	install -m 644 share/convo/sample/* $(DESTDIR)$(DATADIR)/convo/sample
	install -m 644 share/convo/citus.sql $(DESTDIR)$(DATADIR)/convo
	install -d $(DESTDIR)$(DATADIR)/convo/examples
	install -m 644 $(EXAMPLE_FILES) $(DESTDIR)$(DATADIR)/convo/examples
	install -m 755 $(EXAMPLE_SCRIPTS) $(DESTDIR)$(DATADIR)/convo/examples
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	for p in $(PROGS); do \
		install -m 644 completions/convo.bash $(DESTDIR)$(BASHCOMPDIR)/$$p; \
		install -m 644 completions/convo.fish \
			$(DESTDIR)$(FISHCOMPDIR)/$$p.fish; \
	done
	install -m 644 completions/_convo $(DESTDIR)$(ZSHCOMPDIR)/_convo

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS))
	rm -rf $(DESTDIR)$(DATADIR)/convo
	rm -f $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(PROGS))
	rm -f $(addsuffix .fish,$(addprefix $(DESTDIR)$(FISHCOMPDIR)/,$(PROGS)))
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_convo
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))

# Records the shipped sample in the local database and lists the threads.
demo: all
	bin/convo-ingest -q share/convo/sample/sample.ndjson >/dev/null
	bin/convo-list

# Installs the Debian packages the build and the tests need (as root).
deps:
	scripts/install-deps

lint-man:
	mandoc -Tlint -Wwarning man/*.[157]

# Benchmarks against a throwaway PostgreSQL server with default settings:
# SCALE=small takes a few minutes, SCALE=full up to an hour. The report
# goes to bench/results/$(SCALE).md; docs/benchmarks.md explains it.
SCALE = small

# Plain libc: the generator needs none of the libraries of the programs.
bench/gen-events: bench/gen-events.c
	$(CC) -std=c11 -D_GNU_SOURCE $(CFLAGS) -Wall -Wextra -Werror \
		$(LDFLAGS) -o $@ bench/gen-events.c

bench: all $(FAKE) bench/gen-events
	bench/run --scale $(SCALE)

.PHONY: bench

# libFuzzer harnesses, built with clang and sanitizers into $(FUZZ_DIR)
# so that the gcc objects in lib/ are left alone. Building a harness
# replays the inputs under tests/fuzz/regress/ that once crashed it.
# "make fuzz" runs each harness for FUZZ_SECONDS; the corpus it grows
# stays in $(FUZZ_DIR)/corpus and crashes go to $(FUZZ_DIR)/crashes.
FUZZ_CC = clang
FUZZ_DIR = build/fuzz
FUZZ_SECONDS = 60
FUZZ_HARNESSES = record form keyword keywordtest phone segments signature
FUZZ_LIB_SRCS = lib/buf.c lib/form.c lib/keyword.c lib/keywordtest.c \
	lib/linereader.c lib/match.c lib/phone.c lib/record.c lib/segments.c \
	lib/signature.c lib/target.c lib/timeutil.c
FUZZ_LIB_OBJS = $(FUZZ_LIB_SRCS:%.c=$(FUZZ_DIR)/%.o)
FUZZ_BINS = $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/%_fuzz)
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(PKG_CFLAGS) -Ilib -g -O1 \
	-fno-omit-frame-pointer $(FUZZ_SANITIZE) -Wall -Wextra -Werror
FUZZ_SEED_INPUTS = tests/fixtures/*.ndjson share/convo/sample/sample.ndjson

$(FUZZ_DIR)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/%_fuzz: tests/fuzz/%_fuzz.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_LIB_OBJS) $(LDLIBS)

$(FUZZ_DIR)/%.replayed: $(FUZZ_DIR)/%_fuzz $(wildcard tests/fuzz/regress/*/*)
	tests/fuzz/replay $(FUZZ_DIR)/$*_fuzz tests/fuzz/regress/$*
	@touch $@

$(FUZZ_DIR)/seeds/.done: tests/fuzz/seeds $(FUZZ_SEED_INPUTS)
	tests/fuzz/seeds $(FUZZ_DIR)/seeds $(FUZZ_SEED_INPUTS)
	@touch $@

fuzz-build: $(FUZZ_BINS) $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/%.replayed) \
	$(FUZZ_DIR)/seeds/.done

fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

# The shorter run of continuous integration.
fuzz-ci: fuzz-build
	tests/fuzz/run $(FUZZ_DIR) 15 $(FUZZ_HARNESSES)

clean:
	rm -f lib/*.o lib/libconvo.a $(BINS) $(UNITS) $(FAKE) bench/gen-events
	rm -rf $(ASAN_DIR) $(FUZZ_DIR)

.PHONY: all units asan check check-normal check-asan check-valgrind demo \
	install uninstall deps lint-man clean bench fuzz fuzz-build fuzz-ci
.SECONDARY: $(LIB_OBJS) $(FUZZ_LIB_OBJS)
