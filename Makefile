# lua-cos build. `make` builds the C core (libcos.a), the Lua module (cos.core) and cosd under
# $(BUILD). `make test` runs every test twice: plain, then with ASan+UBSan (build-asan/).
# Sources are picked up by folder, one C file per concern:
#   csrc/common  pure helpers shared by the client and cosd (signing, CRC64, buffers)
#   csrc/core    the client core: values, engine, operations, upload engine, task queue
#   csrc/binding the Lua C-API binding (cos.core)
#   csrc/cosd    the local COS-compatible server

BUILD   ?= build
SAN     ?=
LUA     ?= lua5.4
LUA_INC ?= /usr/include/lua5.4
CC      ?= cc
# Short build lines; `make V=1` shows the full commands.
Q        = $(if $(V),,@)

OPT      = -O2 -g
ifeq ($(SAN),1)
OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
endif
ifeq ($(FUZZ),1)
OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
endif
WARN     = -Wall -Wextra -Werror
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) -Icsrc/include -Icsrc/common -Icsrc/core \
             -I/usr/include/libxml2 $(CFLAGS)
comma   := ,
LDSAN    = $(if $(filter 1,$(SAN)),-fsanitize=address$(comma)undefined)

COMMON_SRC = $(sort $(wildcard csrc/common/*.c))
CORE_SRC   = $(sort $(wildcard csrc/core/*.c))
BIND_SRC   = $(sort $(wildcard csrc/binding/*.c))
COSD_SRC   = $(sort $(wildcard csrc/cosd/*.c))
TOOL_SRC   = $(sort $(wildcard csrc/tools/*.c))

obj = $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(1))

LIBCOS   = $(BUILD)/lib/libcos.a
LUAMOD   = $(BUILD)/lua/cos/core.so
COSD     = $(BUILD)/bin/cosd
CORE_LIBS = -lcurl -lxml2 -ljansson -lssl -lcrypto -lm
COSD_LIBS = -lmicrohttpd -lxml2 -ljansson -lssl -lcrypto -lm -lpthread

DEB_PKGS = lua5.4 liblua5.4-dev libcurl4-openssl-dev libssl-dev libxml2-dev libmicrohttpd-dev \
           lua-busted luarocks lua-dkjson curl libjansson-dev $(FUZZ_PKGS)

.SECONDARY:
.PHONY: all install deps test test-plain test-asan demo env bench clean
TOOLS    = $(patsubst csrc/tools/%.c,$(BUILD)/bin/%,$(TOOL_SRC))
all: $(LIBCOS) $(LUAMOD) $(COSD) $(TOOLS)

$(BUILD)/obj/%.o: csrc/%.c $(wildcard csrc/include/*.h csrc/common/*.h csrc/core/*.h csrc/cosd/*.h)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(if $(findstring /binding/,$<),-I$(LUA_INC)) -c $< -o $@

$(LIBCOS): $(call obj,$(COMMON_SRC) $(CORE_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LUAMOD): $(call obj,$(BIND_SRC)) $(LIBCOS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(call obj,$(BIND_SRC)) $(LIBCOS) $(LDSAN) $(CORE_LIBS) $(LDFLAGS)

$(COSD): $(call obj,$(COSD_SRC) $(COMMON_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDSAN) $(COSD_LIBS) $(LDFLAGS)

# Small command-line tools (e.g. cos-sign, used by curl-driven specs), one file each.
$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDSAN) -lcrypto -lm $(LDFLAGS)

# Used by `luarocks make` (lua-cos-scm-1.rockspec), which passes the three directories.
INST_LIBDIR ?= /usr/local/lib/lua/5.4
INST_LUADIR ?= /usr/local/share/lua/5.4
INST_BINDIR ?= /usr/local/bin
install: all
	mkdir -p $(INST_LIBDIR)/cos $(INST_LUADIR)/cos $(INST_BINDIR)
	cp $(LUAMOD) $(INST_LIBDIR)/cos/core.so
	cp lua/cos/*.lua $(INST_LUADIR)/cos/
	cp $(COSD) $(TOOLS) $(INST_BINDIR)/

# Installs the Debian packages that are missing, and only those.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Both passes; the last line is the total "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all fuzz-replay
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all fuzz-replay
	@sh spec/run.sh build build-asan

test-plain: deps all fuzz-replay
	@sh spec/run.sh build

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all fuzz-replay
	@sh spec/run.sh build-asan

demo: deps all
	@LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" LUA_CPATH="$(CURDIR)/$(BUILD)/lua/?.so;;" \
	  COSD_BIN="$(CURDIR)/$(COSD)" $(LUA) examples/demo.lua

# Build output goes to stderr so that `eval "$$(make env)"` only sees the export lines.
env:
	@$(MAKE) --no-print-directory all >&2
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(CURDIR)/$(BUILD)/lua/?.so;;"'
	@echo 'export PATH="$(CURDIR)/$(BUILD)/bin:$$PATH"'

bench: deps all
	@sh bench/run.sh

# ---- fuzzing (fuzz/, docs/fuzzing.md) -----------------------------------------------------------
# One harness per parser, fuzz/<target>.c, with its seed corpus in fuzz/<target>/corpus/ and past
# crash inputs in fuzz/<target>/crashes/. In every build tree `fuzz-replay` links each harness with
# fuzz/replay.c as $(BUILD)/fuzz/<target>, and spec/run.sh runs all of those files through it.
# `make fuzz` builds libFuzzer binaries with clang in $(FUZZ_BUILD) and runs each target for
# FUZZ_SECONDS (fuzz/run.sh reports executions and crashes per target).
FUZZ_PKGS     = clang libclang-rt-14-dev
FUZZ_CLIENT   = xml_result resp_headers checkpoint
FUZZ_COSD     = cosd_auth cosd_complete cosd_postform
FUZZ_SECONDS ?= 120
FUZZ_BUILD   ?= build-fuzz
FUZZ_BINS     = $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_CLIENT) $(FUZZ_COSD))
# In a FUZZ=1 tree the binaries are libFuzzer's; elsewhere replay.o is their main.
FUZZ_MAIN     = $(if $(filter 1,$(FUZZ)),,$(BUILD)/obj/fuzz/replay.o)
FUZZ_LD       = $(if $(filter 1,$(FUZZ)),-fsanitize=fuzzer$(comma)address$(comma)undefined,$(LDSAN))
COSD_NOMAIN   = $(call obj,$(filter-out csrc/cosd/main.c,$(COSD_SRC)) $(COMMON_SRC))
.PHONY: fuzz fuzz-replay fuzz-bins

$(BUILD)/obj/fuzz/%.o: fuzz/%.c fuzz/fuzz.h $(wildcard csrc/include/*.h csrc/common/*.h csrc/core/*.h csrc/cosd/*.h)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Icsrc/cosd -c $< -o $@

$(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_CLIENT)): $(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(FUZZ_MAIN) $(LIBCOS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(FUZZ_LD) $(CORE_LIBS) $(LDFLAGS)

$(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_COSD)): $(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(FUZZ_MAIN) $(COSD_NOMAIN)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(FUZZ_LD) $(COSD_LIBS) $(LDFLAGS)

fuzz-bins fuzz-replay: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ=1 CC=clang fuzz-bins
	@sh fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_CLIENT) $(FUZZ_COSD)

clean:
	rm -rf build build-asan $(FUZZ_BUILD)
