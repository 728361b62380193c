# keyhole - top-level Makefile. `make`, `make check`, `make install DESTDIR= PREFIX=`, V=1 for commands.

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libsodium libmnl sqlite3 json-c

# SANITIZE=1 builds the same programs with ASan and UBSan into their own folder.
ifeq ($(SANITIZE),1)
BUILD ?= build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build/default
SAN_FLAGS :=
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla
override CFLAGS := -std=c11 -O2 -g -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
override LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
LDLIBS = $(PKG_LIBS) -lpthread

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

# The relay's registry sits in the library too, so the unit tests can link it.
RELAY_LIB_SRC := userspace/relay/registry.c
LIB_SRC := $(wildcard userspace/lib/*.c) $(wildcard userspace/common/*.c) $(RELAY_LIB_SRC)
RELAY_SRC := $(filter-out $(RELAY_LIB_SRC),$(wildcard userspace/relay/*.c))
TOOL_SRC := $(wildcard tools/*.c)
UNIT_SRC := $(wildcard selftests/unit/*.c)
BENCH_SRC := selftests/bench/proto-bench.c
RELAYTEST_SRC := $(wildcard selftests/relay/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ := $(RELAY_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)
RELAYTEST_OBJ := $(RELAYTEST_SRC:%.c=$(BUILD)/%.o)

PROGRAMS := $(BUILD)/keyhole $(BUILD)/keyhole-relay
TESTS := $(BUILD)/unit-tests $(BUILD)/proto-bench $(BUILD)/relay-test

.PHONY: all check check-build deps install clean demo
all: $(PROGRAMS) $(TESTS)

$(BUILD)/libkeyhole.a: $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/keyhole: $(TOOL_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/keyhole-relay: $(RELAY_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/relay-test: $(RELAYTEST_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/proto-bench: $(BENCH_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The registry's schema is compiled in: schema.sql becomes one C string.
$(BUILD)/gen/schema.h: userspace/relay/schema.sql
	@mkdir -p $(dir $@)
	$(call msg,GEN,$@)
	$(Q){ printf '/* schema.h - generated from %s by the Makefile; do not edit. */\n' $<; \
	  printf 'static const char kh_schema_sql[] =\n'; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  printf ';\n'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/userspace/relay/registry.o: $(BUILD)/gen/schema.h
$(BUILD)/userspace/relay/registry.o: override CFLAGS += -I$(BUILD)/gen

deps:
	$(Q)scripts/install-deps.sh

# Everything the tests need, built twice: plain and with the sanitizers.
check-build: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 all

check: check-build
	$(Q)selftests/run.sh

demo:
	@echo "make demo: the end-to-end story is coming with the selftests issue."

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/keyhole $(DESTDIR)$(BINDIR)/keyhole
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/keyhole-relay $(DESTDIR)$(SBINDIR)/keyhole-relay

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(RELAY_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(RELAYTEST_OBJ:.o=.d)
