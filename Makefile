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

# The relay's registry and hash map sit in the library too, so the unit tests can link them.
RELAY_LIB_SRC := $(addprefix userspace/relay/,registry.c registry-nodes.c registry-tokens.c \
	registry-policy.c map.c)
LIB_SRC := $(wildcard userspace/lib/*.c) $(wildcard userspace/common/*.c) $(RELAY_LIB_SRC)
RELAY_SRC := $(filter-out $(RELAY_LIB_SRC),$(wildcard userspace/relay/*.c))
DAEMON_SRC := $(wildcard userspace/daemon/*.c)
TOOL_SRC := $(wildcard tools/*.c)
UNIT_SRC := $(wildcard selftests/unit/*.c)
# The tool's config parser is tested too; it is built with the tool, outside the library.
UNIT_EXTRA_SRC := tools/config.c
BENCH_SRC := selftests/bench/proto-bench.c
LOAD_SRC := selftests/bench/relay-load.c
PROFILE_SRC := selftests/bench/relay-profile.c
RELAYTEST_SRC := $(wildcard selftests/relay/*.c)
NLCHECK_SRC := selftests/nlcheck.c
HOSTILE_SRC := selftests/hostile.c
KMODCHECK_SRC := selftests/kmodcheck.c

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ := $(RELAY_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_EXTRA_OBJ := $(UNIT_EXTRA_SRC:%.c=$(BUILD)/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)
LOAD_OBJ := $(LOAD_SRC:%.c=$(BUILD)/%.o)
PROFILE_OBJ := $(PROFILE_SRC:%.c=$(BUILD)/%.o)
RELAYTEST_OBJ := $(RELAYTEST_SRC:%.c=$(BUILD)/%.o)
NLCHECK_OBJ := $(NLCHECK_SRC:%.c=$(BUILD)/%.o)
HOSTILE_OBJ := $(HOSTILE_SRC:%.c=$(BUILD)/%.o)
KMODCHECK_OBJ := $(KMODCHECK_SRC:%.c=$(BUILD)/%.o)

PROGRAMS := $(BUILD)/keyhole $(BUILD)/keyhole-relay $(BUILD)/keyholed
TESTS := $(BUILD)/unit-tests $(BUILD)/proto-bench $(BUILD)/relay-test $(BUILD)/relay-load \
	$(BUILD)/relay-profile \
	$(BUILD)/nlcheck $(BUILD)/hostile $(BUILD)/kmodcheck

.PHONY: all check check-build deps install clean demo vmcheck vmbench deps-vm module module-check install-dkms
all: $(PROGRAMS) $(TESTS)

# Rebuilt from scratch so a source that moved out of the library leaves no stale member.
$(BUILD)/libkeyhole.a: $(LIB_OBJ) Makefile
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $(LIB_OBJ)

$(BUILD)/keyhole: $(TOOL_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/keyhole-relay: $(RELAY_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/keyholed: $(DAEMON_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(UNIT_EXTRA_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/nlcheck: $(NLCHECK_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/relay-test: $(RELAYTEST_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/proto-bench: $(BENCH_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The impostor of the network-namespace suite: junk, replays and floods at a relay.
$(BUILD)/hostile: $(HOSTILE_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# keyhole.ko's netlink family and data path, driven from userspace (selftests/kmod.sh, in the VM).
$(BUILD)/kmodcheck: $(KMODCHECK_OBJ) $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The load generator drives the relay with the relay tests' protocol client.
$(BUILD)/relay-load: $(LOAD_OBJ) $(BUILD)/selftests/relay/client.o $(BUILD)/libkeyhole.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A bounded forwarding run for a profiler wrapped around the relay (make bench-profile).
$(BUILD)/relay-profile: $(PROFILE_OBJ) $(BUILD)/selftests/relay/client.o $(BUILD)/libkeyhole.a
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
check-build: deps deps-vm
	$(Q)scripts/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 all

check: check-build
	$(Q)selftests/run.sh

# The keyhole story, narrated, in network namespaces (root).
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh build/default

# The netns suite again, inside Debian's own kernel booted under qemu (scripts/vm.sh);
# what it downloads and unpacks stays in build/vm/ for the next run.
vmcheck: deps-vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/vm.sh $(BUILD)

deps-vm:
	$(Q)scripts/install-deps.sh --vm

# keyhole.ko against the TUN data plane, iperf3 through the relay, inside the VM.
vmbench: deps-vm
	$(Q)scripts/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VM_SUITE=selftests/bench/vm-bench.sh scripts/vm.sh $(BUILD)

# keyhole.ko against the running kernel's headers, or else the newest Debian headers in
# /usr/src (the VM's kernel), or KERNELDIR=. Kbuild builds in a copy under build/module/, so
# the source tree stays clean. C=1 runs sparse over it too.
KERNELDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))
MODULE_SRC := Kbuild $(wildcard kernel/*.c kernel/*.h) include/uapi/linux/keyhole.h
MODULE_DIR = build/module/$(notdir $(abspath $(KERNELDIR)))
module:
	$(Q)test -n "$(KERNELDIR)" && test -d "$(KERNELDIR)" || \
		{ echo "make module: no kernel headers; install linux-headers-amd64" \
			"(scripts/install-deps.sh --vm) or set KERNELDIR=" >&2; exit 1; }
	$(Q)mkdir -p $(MODULE_DIR) && cp --parents -u $(MODULE_SRC) $(MODULE_DIR)/
	$(Q)$(MAKE) --no-print-directory -C $(KERNELDIR) M=$(abspath $(MODULE_DIR)) \
		$(if $(filter 1,$(V)),V=1) modules
	@echo "  MODULE $(MODULE_DIR)/keyhole.ko"

# keyhole.ko's static checks: sparse over every file (C=2) and the kernel's checkpatch.pl
# --strict (scripts/checkpatch.sh); any finding fails.
module-check:
	$(Q)out=$$($(MAKE) --no-print-directory module C=2 2>&1) || { echo "$$out"; exit 1; }; \
	if echo "$$out" | grep -E ': (warning|error):'; then \
		echo "make module-check: sparse has findings" >&2; exit 1; fi
	$(Q)scripts/checkpatch.sh
	@echo "  CHECK  keyhole.ko: sparse and checkpatch --strict clean"

# DKMS: the module's sources and dkms.conf in /usr/src/keyhole-VERSION; then
# `dkms install keyhole/VERSION` builds it for each installed kernel.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
install-dkms:
	install -d $(DESTDIR)/usr/src/keyhole-$(DKMS_VERSION)
	cp --parents $(MODULE_SRC) dkms.conf $(DESTDIR)/usr/src/keyhole-$(DKMS_VERSION)/

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/keyhole $(DESTDIR)$(BINDIR)/keyhole
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/keyhole-relay $(DESTDIR)$(SBINDIR)/keyhole-relay
	install -m 0755 $(BUILD)/keyholed $(DESTDIR)$(SBINDIR)/keyholed

# keyhole against plain routing, wireguard-go, OpenVPN and n2n through one relay namespace
# (root): `make bench` takes about 6½ minutes and writes build/bench/results.md;
# `make bench-smoke` (plain, keyhole, wireguard-go, a second each) fails if keyhole moves
# no traffic. Documentation/bench.md says what is measured and how.
.PHONY: bench bench-smoke bench-profile
bench:
	$(Q)scripts/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)selftests/bench/bench.sh --build $(BUILD)

bench-smoke:
	$(Q)scripts/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)selftests/bench/bench.sh --smoke --build $(BUILD)

# The relay's forwarding cost in instructions per packet, and the AEAD's share, counted by
# callgrind over a few thousand packets (selftests/bench/relay-profile.sh; seconds).
bench-profile:
	$(Q)scripts/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)selftests/bench/relay-profile.sh --build $(BUILD)

# libFuzzer targets, one per parser, built with clang straight from the library
# sources each one needs (libkeyhole.a comes from $(CC) without the fuzzer's
# coverage hooks): selftests/fuzz/fuzz_NAME.c links the files in FUZZ_LIB_NAME.
# `make fuzz` runs each for FUZZ_SECONDS on its corpus in build/fuzz/corpus/;
# `make fuzz-smoke` runs each for 5 seconds.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c11 \
	-D_GNU_SOURCE $(WARN) $(shell $(PKG_CONFIG) --cflags libsodium libmnl sqlite3 2>/dev/null)
FUZZ_LIBS = $(shell $(PKG_CONFIG) --libs libsodium libmnl sqlite3 2>/dev/null)
FUZZ_NAMES := $(patsubst selftests/fuzz/fuzz_%.c,%,$(wildcard selftests/fuzz/fuzz_*.c))
FUZZ_LIB_ippacket := userspace/lib/ippacket.c
FUZZ_LIB_gso := userspace/lib/gso.c userspace/lib/csum.c
FUZZ_LIB_gro := userspace/lib/gro.c userspace/lib/gso.c userspace/lib/csum.c
FUZZ_LIB_control := userspace/lib/control.c userspace/lib/attr.c
FUZZ_LIB_relay_datagram := $(addprefix userspace/lib/,cookie.c handshake.c key.c noise.c \
	replay.c transport.c)
FUZZ_LIB_genl := userspace/lib/genl.c userspace/lib/genl-dataplane.c
FUZZ_LIB_config := tools/config.c userspace/common/keyfile.c userspace/lib/key.c \
	userspace/lib/names.c

# run_fuzzers SECONDS: each fuzzer in turn; a crash stops the run and shows its log.
define run_fuzzers
for n in $(FUZZ_NAMES); do \
	mkdir -p $(FUZZ_DIR)/corpus/$$n; \
	log=$(FUZZ_DIR)/fuzz_$$n.log; \
	if ! $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(1) -print_final_stats=1 \
	     -artifact_prefix=$(FUZZ_DIR)/fuzz_$$n- $(FUZZ_DIR)/corpus/$$n >$$log 2>&1; then \
		tail -n 40 $$log; \
		echo "fuzz_$$n: failed; log in $$log, input saved as $(FUZZ_DIR)/fuzz_$$n-*"; \
		exit 1; \
	fi; \
	printf '  %-6s %s: %s runs in %s s, corpus of %s inputs\n' FUZZ fuzz_$$n \
		"$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log)" $(1) \
		"$$(ls $(FUZZ_DIR)/corpus/$$n | wc -l)"; \
done
endef

.PHONY: fuzz fuzz-smoke fuzz-build deps-fuzz
deps-fuzz:
	$(Q)scripts/install-deps.sh --fuzz

fuzz-build: deps-fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

fuzz: fuzz-build
	$(Q)$(call run_fuzzers,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(Q)$(call run_fuzzers,5)

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: selftests/fuzz/fuzz_%.c $$(FUZZ_LIB_$$*) $(wildcard userspace/lib/*.h)
	@mkdir -p $(dir $@)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(RELAY_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(LOAD_OBJ:.o=.d) $(PROFILE_OBJ:.o=.d) $(RELAYTEST_OBJ:.o=.d) $(NLCHECK_OBJ:.o=.d) $(HOSTILE_OBJ:.o=.d) $(KMODCHECK_OBJ:.o=.d)
