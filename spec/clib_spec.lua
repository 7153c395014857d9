-- The C library as an installed product: `make install-lib` into a temporary prefix, the examples
-- built against it with pkg-config (shared and static) and run against cosd, four client threads
-- uploading at once, the exported symbols, and a C host that owns libcurl running the Lua module.
-- Everything is built from the build tree under test (COS_BUILD); in the asan pass the C programs
-- get the same sanitizer flags, so their reports fail the pass like any other.
local cosd = require "support.cosd"
local files = require "support.files"

local q = cosd.sh_quote
local root = cosd.capture("pwd"):match("[^\n]+")
local build = os.getenv("COS_BUILD") or (root .. "/build")
local asan = build:match("asan$") ~= nil
local SAN = asan and " -fsanitize=address,undefined" or ""
local CC = "cc -std=c11 -Wall -Wextra -Werror" .. SAN
local MIB = 1024 * 1024

-- Runs a shell command; fails the test with its output unless it exits 0.
local function sh(cmd)
  local out, ok = cosd.capture(cmd .. " 2>&1")
  assert(ok, cmd .. "\n" .. out)
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- COS_VERSION and the names of the COS_API functions, read from the header itself.
local header = read(root .. "/csrc/include/cos.h")
local VERSION = header:match('#define COS_VERSION "([^"]+)"')
local API = {}
for decl in header:gmatch("\nCOS_API ([^;]+);") do API[#API + 1] = decl:match("([%w_]+)%s*%(") end
table.sort(API)

-- `make install-lib` of the build under test (its objects and flags), with extra make variables.
local function install(vars)
  return sh(("make -C %s --no-print-directory BUILD=%s %s install-lib %s"):format(q(root), q(build),
    asan and "SAN=1" or "", vars))
end

-- Defined global symbols of a library, sorted: `nm -D` for a shared object, `nm -g` for an archive.
local function exported(path, dynamic)
  local out = sh(("nm %s --defined-only %s"):format(dynamic and "-D" or "-g", q(path)))
  local names = {}
  for name in out:gmatch("%x+ [A-Z] ([%w_.@]+)") do names[#names + 1] = name end
  table.sort(names)
  return names
end

describe("the C library installed with make install-lib", function()
  local dir, prefix, pc_env, srv

  -- Environment for commands that build or run against the installed prefix.
  local function env(extra)
    return ("PKG_CONFIG_PATH=%s LD_LIBRARY_PATH=%s COS_SECRETID=%s COS_SECRETKEY=%s COS_BUCKET=%s COS_REGION=%s COS_IP=%s %s ")
        :format(q(prefix .. "/lib/pkgconfig"), q(prefix .. "/lib"), q(cosd.SECRET_ID), q(cosd.SECRET_KEY),
          q(cosd.BUCKET), q(cosd.REGION), q(srv.endpoint), extra or "")
  end

  -- The documented build lines (README "Use from C").
  local function build_shared(src, exe, extra)
    sh(("cd %s && %s %s %s $(pkg-config --cflags --libs lua-cos) -o %s"):format(q(dir), pc_env, CC, q(src),
      q(exe)) .. (extra or ""))
  end
  local function build_static(src, exe, extra)
    sh(("cd %s && %s %s %s $(pkg-config --cflags lua-cos) -Wl,-Bstatic -lcos -Wl,-Bdynamic -Wl,--as-needed " ..
      "$(pkg-config --static --libs lua-cos) -o %s"):format(q(dir), pc_env, CC, q(src), q(exe)) .. (extra or ""))
  end

  local function needed(exe)
    return sh("readelf -d " .. q(exe))
  end

  -- The object's bytes on cosd, compared with a local file by MD5.
  local function assert_object_equals(key, path)
    local out = dir .. "/fetched"
    os.remove(out)
    local status = srv:request { key = key, out_file = out }
    assert.are.equal(200, status, key)
    assert.are.equal(files.md5_file(path), files.md5_file(out), key)
  end

  setup(function()
    dir = cosd.tmpdir("lua-cos-clib")
    prefix = dir .. "/usr"
    pc_env = "export PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. ";"
    install("PREFIX=" .. q(prefix))
    srv = cosd.start()
  end)
  teardown(function()
    if srv then srv:cleanup() end
    if dir then cosd.exec("rm -rf " .. q(dir)) end
  end)

  it("installs under DESTDIR the soname'd shared library, the archive, cos.h and lua-cos.pc for PREFIX", function()
    local stage = dir .. "/stage"
    install(("DESTDIR=%s PREFIX=/opt/lua-cos"):format(q(stage)))
    local lib = stage .. "/opt/lua-cos/lib"
    local listing = sh("cd " .. q(stage) .. " && find . | sort")
    for _, f in ipairs { "lib/libcos.so." .. VERSION, "lib/libcos.so.0", "lib/libcos.so", "lib/libcos.a",
      "include/cos.h", "lib/pkgconfig/lua-cos.pc" } do
      assert.truthy(listing:find("./opt/lua-cos/" .. f .. "\n", 1, true), f .. " missing:\n" .. listing)
    end
    local major = VERSION:match("^(%d+)")
    assert.are.equal("libcos.so." .. VERSION, sh("readlink " .. q(lib .. "/libcos.so." .. major)):match("%S+"))
    assert.are.equal("libcos.so." .. major, sh("readlink " .. q(lib .. "/libcos.so")):match("%S+"))
    assert.truthy(needed(lib .. "/libcos.so." .. VERSION):find("Library soname: [libcos.so." .. major .. "]", 1, true))
    assert.are.equal(read(root .. "/csrc/include/cos.h"), read(stage .. "/opt/lua-cos/include/cos.h"))
    -- The .pc names the final prefix, not the staging directory.
    local pc = read(lib .. "/pkgconfig/lua-cos.pc")
    assert.truthy(pc:find("prefix=/opt/lua-cos\n", 1, true), pc)
    assert.is_nil(pc:find(stage, 1, true), pc)
  end)

  it("pkg-config lua-cos: --modversion is COS_VERSION; --cflags, --libs and --static --libs", function()
    assert.truthy(VERSION and VERSION:match("^%d+%.%d+%.%d+"), "COS_VERSION in cos.h")
    assert.are.equal(VERSION, sh(pc_env .. " pkg-config --modversion lua-cos"):match("%S+"))
    assert.are.equal("-I" .. prefix .. "/include", sh(pc_env .. " pkg-config --cflags lua-cos"):match("^%s*(.-)%s*$"))
    assert.are.equal("-L" .. prefix .. "/lib -lcos", sh(pc_env .. " pkg-config --libs lua-cos"):match("^%s*(.-)%s*$"))
    local static = sh(pc_env .. " pkg-config --static --libs lua-cos")
    for _, l in ipairs { "-lcos", "-lcurl", "-lxml2", "-ljansson", "-lcrypto", "-lm", "-pthread" } do
      assert.truthy((" " .. static .. " "):find(" " .. l .. "%s"), l .. " missing: " .. static)
    end
  end)

  it("libcos.so and libcos.a export exactly the COS_API functions of cos.h", function()
    assert.is_true(#API >= 40, "COS_API declarations found in cos.h: " .. #API)
    local so = exported(prefix .. "/lib/libcos.so." .. VERSION, true)
    assert.are.same(API, so)
    -- The archive's internal helpers (sb_*, internal cos_*) are local: a static host meets only the API.
    assert.are.same(API, exported(prefix .. "/lib/libcos.a", false))
    -- The Lua module keeps its copy of the core to itself.
    local module = package.searchpath("cos.core", os.getenv("LUA_CPATH") or (build .. "/lua/?.so"))
    assert.truthy(module, "cos.core not found on LUA_CPATH")
    for _, name in ipairs(exported(module, true)) do
      assert.is_nil(name:match("^cos_"), "core.so exports " .. name)
    end
  end)

  it("examples/embed.c builds with pkg-config, shared and static, and runs against cosd", function()
    build_shared(root .. "/examples/embed.c", "embed-shared")
    build_static(root .. "/examples/embed.c", "embed-static")
    assert.truthy(sh(env() .. "ldd " .. q(dir .. "/embed-shared")):find("libcos.so.0 => " .. prefix .. "/lib/", 1, true))
    assert.truthy(needed(dir .. "/embed-shared"):find("[libcos.so.0]", 1, true))
    assert.is_nil(needed(dir .. "/embed-static"):find("libcos", 1, true), "the static build needs no libcos.so")
    for _, exe in ipairs { "embed-shared", "embed-static" } do
      local key = "clib/" .. exe .. ".txt"
      local out = sh(env() .. q(dir .. "/" .. exe) .. " " .. q(key))
      assert.truthy(out:find("headObject: content-length 14", 1, true), out)
      local status, _, body = srv:request { key = key }
      assert.are.equal(200, status)
      assert.are.equal("hello from C!\n", body)
    end
  end)

  it("examples/embed_frameloop.c uploads several files from a 60 Hz loop, shared and static", function()
    local inputs = {
      files.random_file(dir .. "/small.bin", 100 * 1024),
      files.random_file(dir .. "/medium.bin", 3 * MIB + 5),
      files.random_file(dir .. "/large.bin", 9 * MIB),
    }
    build_shared(root .. "/examples/embed_frameloop.c", "frameloop-shared")
    build_static(root .. "/examples/embed_frameloop.c", "frameloop-static")
    for _, exe in ipairs { "frameloop-shared", "frameloop-static" } do
      local prefix_key = "clib/" .. exe .. "/"
      local out = sh(env() .. q(dir .. "/" .. exe) .. " -p " .. q(prefix_key) .. " " ..
        table.concat({ q(inputs[1]), q(inputs[2]), q(inputs[3]) }, " "))
      assert.truthy(out:find("\nframe %d+:"), out)
      assert.truthy(out:find("%d+ frames, slowest cos_poll step"), out)
      for _, path in ipairs(inputs) do
        local key = prefix_key .. path:match("[^/]+$")
        assert.truthy(out:find(key .. ": done, ETag", 1, true), out)
        assert.truthy(out:find(key .. " 100%", 1, true), out)
        assert_object_equals(key, path)
      end
    end
  end)

  it("4 threads, each with its own client, upload 32 MiB at once; every object is intact", function()
    build_shared(root .. "/spec/c/threads.c", "threads", " -pthread")
    local paths = {}
    for i = 1, 4 do paths[i] = files.random_file(("%s/thread%d.bin"):format(dir, i), 32 * MIB) end
    local args = {}
    for i, p in ipairs(paths) do args[i] = q(p) end
    local out = sh(env() .. q(dir .. "/threads") .. " clib/threads/ " .. table.concat(args, " "))
    for i = 1, 4 do
      assert.truthy(out:find(("thread %d: ok "):format(i - 1), 1, true), out)
      assert_object_equals("clib/threads/" .. (i - 1), paths[i])
    end
  end)

  it("the Lua module works in a C host that initialised and uses libcurl itself", function()
    -- The host embeds the Lua this spec runs under, the one the module under test was built for.
    local lua_pc = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    sh(("cd %s && %s %s $(pkg-config --cflags --libs libcurl %s) -o host"):format(q(dir), CC,
      q(root .. "/spec/c/host_curl_init.c"), lua_pc))
    local big = files.random_file(dir .. "/host.bin", 5 * MIB)
    local script = dir .. "/host.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      local COS = require "cos"
      local cos = COS.new { SecretId = %q, SecretKey = %q, Protocol = "http:", Ip = %q, ChunkSize = 1048576 }
      local p = { Bucket = %q, Region = %q }
      local function with(t) for k, v in pairs(p) do t[k] = v end return t end
      assert(cos:putObject(with { Key = "clib/host/hello.txt", Body = "hello from a curl host" }))
      assert(cos:sliceUploadFile(with { Key = "clib/host/big.bin", FilePath = %q }))
    ]]):format(cosd.SECRET_ID, cosd.SECRET_KEY, srv.endpoint, cosd.BUCKET, cosd.REGION, big))
    f:close()
    local url = "http://" .. srv.endpoint .. "/"
    local cpath = os.getenv("LUA_CPATH") or (build .. "/lua/?.so;;")
    local out = sh("LUA_CPATH=" .. q(cpath) .. " " .. q(dir .. "/host") .. " " .. q(url) .. " " .. q(url) .. " " .. q(script))
    assert.truthy(out:find("host: before %d+, script ok, after %d+"), out)
    local status, _, body = srv:request { key = "clib/host/hello.txt" }
    assert.are.equal(200, status)
    assert.are.equal("hello from a curl host", body)
    assert_object_equals("clib/host/big.bin", big)
  end)
end)
