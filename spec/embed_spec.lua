-- examples/embed.c, the C API without Lua: compiled with cc against libcos.a of the build under
-- test (COS_BUILD; with the sanitizer flags in the asan pass), run against cosd, exit status 0.
local cosd = require "support.cosd"

local q = cosd.sh_quote or function(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local root = cosd.capture("pwd"):match("[^\n]+")
local build = os.getenv("COS_BUILD") or (root .. "/build")
local san = build:match("asan$") and " -fsanitize=address,undefined" or ""

describe("examples/embed.c", function()
  local dir, exe, srv
  setup(function()
    dir = cosd.capture("mktemp -d /tmp/lua-cos-embed.XXXXXX"):match("%S+")
    exe = dir .. "/embed"
  end)
  teardown(function()
    if srv then srv:cleanup() end
    cosd.exec("rm -rf " .. q(dir))
  end)

  it("compiles with the documented cc line against libcos.a", function()
    local cmd = "cd " .. q(root) .. " && cc -std=c11 -Wall -Wextra -Werror" .. san .. " -Icsrc/include examples/embed.c " ..
        q(build .. "/lib/libcos.a") .. " -lcurl -lxml2 -ljansson -lssl -lcrypto -lm -o " .. q(exe) .. " 2>&1"
    local out, ok = cosd.capture(cmd)
    assert(ok, out)
  end)

  it("uploads and heads an object on cosd, exit status 0", function()
    srv = cosd.start()
    local cmd = ("COS_SECRETID=%s COS_SECRETKEY=%s COS_BUCKET=%s COS_REGION=%s COS_IP=%s %s embed/hello.txt 2>&1")
        :format(q(cosd.SECRET_ID), q(cosd.SECRET_KEY), q(cosd.BUCKET), q(cosd.REGION), q(srv.endpoint), q(exe))
    local out, ok = cosd.capture(cmd)
    assert(ok, out)
    assert.truthy(out:find("putObject (task 1): statusCode 200", 1, true), out)
    assert.truthy(out:find("headObject: content-length 14", 1, true), out)
    local status, _, body = srv:request { key = "embed/hello.txt" }
    assert.are.equal(200, status)
    assert.are.equal("hello from C!\n", body)
  end)

  it("exits non-zero without credentials", function()
    local _, ok = cosd.capture("env -u COS_SECRETID " .. q(exe) .. " >/dev/null 2>&1")
    assert.is_falsy(ok)
  end)
end)
