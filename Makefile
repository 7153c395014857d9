# lua-cos build. `make` builds the C core (libcos.a), the Lua module (cos.core) and cosd under
# $(BUILD). `make LUA=lua5.1|lua5.2|lua5.3|lua5.4|luajit` builds for that interpreter, each into
# its own tree (build/ for lua5.4, build-<interp>/ for the others), so the builds coexist.
# `make test` runs every spec under each interpreter, then again with ASan+UBSan (build-asan/, 5.4).
# Sources are picked up by folder, one C file per concern:
#   csrc/common  pure helpers shared by the client and cosd (signing, CRC64, buffers)
#   csrc/core    the client core, one folder per layer (docs/architecture.md)
#   csrc/binding the Lua C-API binding (cos.core)
#   csrc/cosd    the local COS-compatible server

LUA     ?= lua5.4
# LuaRocks passes the interpreter's full path (/usr/bin/lua5.1): only its name matters here.
LUA_NAME := $(notdir $(LUA))
LUA_INC ?= $(if $(filter luajit%,$(LUA_NAME)),/usr/include/luajit-2.1,/usr/include/$(LUA_NAME))
BUILD   ?= $(if $(filter lua5.4,$(LUA_NAME)),build,build-$(LUA_NAME))
SAN     ?=
# Every interpreter `make test` covers (plain builds), and the one of the sanitizer pass.
TEST_LUAS = lua5.1 lua5.2 lua5.3 lua5.4 luajit
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
CORE_SRC   = $(sort $(wildcard csrc/core/*.c csrc/core/*/*.c))
BIND_SRC   = $(sort $(wildcard csrc/binding/*.c))
COSD_SRC   = $(sort $(wildcard csrc/cosd/*.c))
TOOL_SRC   = $(sort $(wildcard csrc/tools/*.c))
HEADERS    = $(wildcard csrc/include/*.h csrc/common/*.h csrc/core/*.h csrc/core/*/*.h csrc/cosd/*.h)

obj = $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(1))

LIBCOS   = $(BUILD)/lib/libcos.a
LUAMOD   = $(BUILD)/lua/cos/core.so
COSD     = $(BUILD)/bin/cosd
CORE_LIBS = -lcurl -lxml2 -ljansson -lssl -lcrypto -lm
COSD_LIBS = -lmicrohttpd -lxml2 -ljansson -lssl -lcrypto -lm -lpthread

# luajit2 is OpenResty's LuaJIT branch, the one Debian's nginx lua module links (it conflicts
# with the plain luajit package); nginx + libnginx-mod-http-lua + lua-resty-core run the OpenResty specs.
DEB_PKGS = lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev lua5.4 liblua5.4-dev \
           luajit2 libluajit2-5.1-dev \
           libcurl4-openssl-dev libssl-dev libxml2-dev libmicrohttpd-dev \
           lua-busted luarocks lua-dkjson curl media-types libjansson-dev $(FUZZ_PKGS) \
           nginx libnginx-mod-http-lua lua-resty-core lua-luv

.SECONDARY:
.PHONY: all install deps test test-plain test-asan test-builds demo env bench bench-nginx clean
TOOLS    = $(patsubst csrc/tools/%.c,$(BUILD)/bin/%,$(TOOL_SRC))
all: $(LIBCOS) $(LUAMOD) $(COSD) $(TOOLS)

$(BUILD)/obj/%.o: csrc/%.c $(HEADERS)
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

# One pass per interpreter plus the sanitizer pass; the last line is the total "N passed, N failed".
# spec/run.sh takes <build tree>:<interpreter> pairs. The fuzz corpora are replayed in build/ and
# build-asan/ (the harnesses are C only: one plain and one sanitizer tree are enough).
test: deps test-builds
	@$(MAKE) --no-print-directory -j$(NPROC) fuzz-replay
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-asan SAN=1 all fuzz-replay
	@sh spec/run.sh $(foreach l,$(TEST_LUAS),$(call tree_of,$(l)):$(l)) build-asan:lua5.4

# Builds compile in parallel, one job per core.
NPROC := $(shell nproc 2>/dev/null || echo 2)
tree_of = $(if $(filter lua5.4,$(1)),build,build-$(1))
test-builds:
	@for l in $(TEST_LUAS); do $(MAKE) --no-print-directory -j$(NPROC) LUA=$$l all || exit 1; done

# One interpreter's pass: make test-plain LUA=lua5.1
test-plain: deps all fuzz-replay
	@sh spec/run.sh $(BUILD):$(LUA_NAME)

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all fuzz-replay
	@sh spec/run.sh build-asan:lua5.4

demo: deps all
	@LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" LUA_CPATH="$(CURDIR)/$(BUILD)/lua/?.so;;" \
	  COSD_BIN="$(CURDIR)/$(COSD)" $(LUA) examples/demo.lua

# Build output goes to stderr so that `eval "$$(make env)"` only sees the export lines.
env:
	@$(MAKE) --no-print-directory all >&2
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(CURDIR)/$(BUILD)/lua/?.so;;"'
	@echo 'export PATH="$(CURDIR)/$(BUILD)/bin:$$PATH"'

bench: deps all $(BUILD)/bin/poll_step
	@$(MAKE) --no-print-directory LUA=luajit all
	@sh bench/run.sh

# Only the OpenResty bench (bench/nginx_bench.lua).
bench-nginx: deps all
	@$(MAKE) --no-print-directory LUA=luajit all
	@BENCH_ONLY=nginx BENCH_NODE=0 sh bench/run.sh

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

$(BUILD)/obj/fuzz/%.o: fuzz/%.c fuzz/fuzz.h $(HEADERS)
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
	rm -rf build build-asan $(foreach l,$(TEST_LUAS),build-$(l)) $(FUZZ_BUILD)

# ---- The C library as an installable product (libcos.so, libcos.a, cos.h, lua-cos.pc) -------------
# `make install-lib PREFIX=/usr/local` (DESTDIR honoured) installs what a C host links; see README
# "Use from C" and docs/c-library.md. The version comes from COS_VERSION in cos.h, nowhere else; the
# soname carries its major number. The core is compiled with hidden visibility: only declarations
# marked COS_API in cos.h are exported from libcos.so.
COS_VERSION := $(shell sed -n 's/^\#define COS_VERSION "\([^"]*\)".*/\1/p' csrc/include/cos.h)
COS_SOMAJOR := $(firstword $(subst ., ,$(COS_VERSION)))
LIBCOS_SO    = $(BUILD)/lib/libcos.so.$(COS_VERSION)
LIBCOS_DIST  = $(BUILD)/lib/dist/libcos.a
LIB_OBJS     = $(call obj,$(COMMON_SRC) $(CORE_SRC))
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# pkg-config and the binutils (ld -r, objcopy, nm, readelf) for the library and its spec.
DEB_PKGS    += pkgconf binutils
# Linking libcos.a needs these too (pkg-config --static --libs); the shared library records them itself.
LIB_PRIVATE  = $(CORE_LIBS) -pthread

.PHONY: lib install-lib
all: lib
lib: $(LIBCOS_SO) $(LIBCOS_DIST)

$(LIB_OBJS): CFLAGS_ALL += -fvisibility=hidden
# The Lua module keeps its copy of the core to itself: it exports luaopen_cos_core only, so a host
# that also links libcos.so (or anything with the same names) never swaps functions under it.
$(LUAMOD): LDFLAGS += -Wl,--exclude-libs,ALL

$(LIBCOS_SO): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libcos.so.$(COS_SOMAJOR) -o $@ $^ $(LDSAN) \
	  $(CORE_LIBS) -pthread $(LDFLAGS)
	$(Q)ln -sf libcos.so.$(COS_VERSION) $(BUILD)/lib/libcos.so.$(COS_SOMAJOR)
	$(Q)ln -sf libcos.so.$(COS_SOMAJOR) $(BUILD)/lib/libcos.so

# The installed archive is one relocatable object whose hidden symbols are made local, so a host
# linking it statically meets only the cos_* API, never our internal helpers' names.
$(LIBCOS_DIST): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  AR      $@")
	$(Q)ld -r -o $(@:.a=.o) $^ && objcopy --localize-hidden $(@:.a=.o) && rm -f $@ && ar rcs $@ $(@:.a=.o)

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(LIBCOS_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libcos.so.$(COS_VERSION) $(DESTDIR)$(LIBDIR)/libcos.so.$(COS_SOMAJOR)
	ln -sf libcos.so.$(COS_SOMAJOR) $(DESTDIR)$(LIBDIR)/libcos.so
	install -m 644 $(LIBCOS_DIST) $(DESTDIR)$(LIBDIR)/libcos.a
	install -m 644 csrc/include/cos.h $(DESTDIR)$(INCLUDEDIR)/cos.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(COS_VERSION)|g' -e 's|@LIB_PRIVATE@|$(LIB_PRIVATE)|g' \
	    csrc/lua-cos.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/lua-cos.pc

# What one cos_poll(c, 0) step costs during a 256 MiB upload (bench/poll_step.c; figures in
# docs/c-library.md).
.PHONY: bench-poll
$(BUILD)/bin/poll_step: bench/poll_step.c $(LIBCOS) csrc/include/cos.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Icsrc/include -o $@ $< $(LIBCOS) $(LDSAN) $(CORE_LIBS) -pthread
bench-poll: all $(BUILD)/bin/poll_step
	@BUILD=$(BUILD) sh bench/poll_step.sh
