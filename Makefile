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
CORE_LIBS = -lcurl -lxml2 -lssl -lcrypto -lm
COSD_LIBS = -lmicrohttpd -lxml2 -lssl -lcrypto -lm -lpthread

DEB_PKGS = lua5.4 liblua5.4-dev libcurl4-openssl-dev libssl-dev libxml2-dev libmicrohttpd-dev \
           lua-busted luarocks lua-dkjson curl lua-luv

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
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all
	@sh spec/run.sh build build-asan

test-plain: deps all
	@sh spec/run.sh build

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all
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

clean:
	rm -rf build build-asan
