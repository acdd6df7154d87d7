# postane - build, test, fuzz.
#   make            release build: build/postane
#   make test       unit tests + end-to-end tests (what CI runs, via scripts/test.sh)
#   make asan       the same binary and unit tests under ASan+UBSan (build/asan/)
#   make fuzz       build the libFuzzer targets; FUZZ_SECONDS=N make fuzz-run
#   make format     clang-format the tree
#   make lint       cppcheck (warning, performance, portability) over src/

CC ?= cc
PKGS := sqlite3 libargon2 libidn2 openssl inih zlib libcares
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wformat-security -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wno-format-truncation -Werror
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fPIE
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(WARN) $(PKG_CFLAGS) -pthread
CFLAGS ?= -O2 -g
LDFLAGS_HARDEN := -pie -Wl,-z,relro,-z,now
LIBS := $(PKG_LIBS) -pthread

BUILD ?= build

# Quiet by default; `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
MAIN_SRC := src/cli/main.c
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)

LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
MAIN_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(MAIN_SRC))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all clean test unit e2e asan fuzz fuzz-run format check-format lint

all: $(BUILD)/postane

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libpostane.a: $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/postane: $(MAIN_OBJ) $(BUILD)/libpostane.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS_HARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libpostane.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) $(LDFLAGS_HARDEN) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libpostane.a $(LIBS) -lcmocka

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(BUILD)/tests

e2e: $(BUILD)/postane
	POSTANE_BIN=$(abspath $(BUILD)/postane) /usr/bin/python3 -m pytest -q -n 4 tests/e2e

test: all unit e2e

# Sanitizer build: same sources, separate tree.
asan:
	$(MAKE) BUILD=build/asan CC=clang WARN="$(WARN) -Wno-unknown-warning-option" \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" all $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BINS))

# libFuzzer targets, each linked with the library built for fuzzing.
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang WARN="$(WARN) -Wno-unknown-warning-option" CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_BUILD)/libpostane.a
	@mkdir -p $(FUZZ_BUILD)/bin
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		echo "  FUZZ $$n"; \
		clang $(BASE_CFLAGS) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $(FUZZ_BUILD)/bin/$$n $$f \
			$(FUZZ_BUILD)/libpostane.a $(LIBS) || exit 1; \
	done

FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	scripts/run-fuzz.sh $(FUZZ_BUILD)/bin $(FUZZ_SECONDS)

# Static analysis. False positives are suppressed inline (a comment above
# says why), except in files other work was changing at the time:
#   src/cli/cli_admin.c legacyUninitvar: `again` is read_password()'s output
#   buffer, written by fgets() before it is read.
# Prints a one-line summary for scripts/test.sh.
CPPCHECK_FLAGS := --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
	-Isrc --suppress=legacyUninitvar:src/cli/cli_admin.c
lint:
	$(Q)cppcheck $(CPPCHECK_FLAGS) src && echo "lint: 1 passed, 0 failed" || \
		{ echo "lint: 0 passed, 1 failed"; exit 1; }

# Crash consistency, long form (25 SIGKILLs per test; CI runs 6 in test.sh).
chaos: $(BUILD)/postane
	CHAOS_KILLS=25 POSTANE_BIN=$(abspath $(BUILD)/postane) /usr/bin/python3 -m pytest -s -p no:cacheprovider tests/chaos

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'fuzz/*.[ch]')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
