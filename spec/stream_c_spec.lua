-- Stream uploads from C (spec/c/stream_read.c, linked against libcos.a of the build under test):
-- a COS_BODY_STREAM read through on_read (odd chunk sizes, COS_READ_AGAIN), and one read by the
-- core itself from a pipe on standard input. Objects are fetched back and compared.
local cosd = require "support.cosd"
local U = require "support.upload_util"

local q = cosd.sh_quote
local root = cosd.capture("pwd"):match("[^\n]+")
local build = os.getenv("COS_BUILD") or (root .. "/build")
local san = build:match("asan$") and " -fsanitize=address,undefined" or ""

describe("stream uploads from C", function()
  local srv, cos, dir, exe

  setup(function()
    srv, cos, dir = cosd.open()
    exe = dir .. "/stream_read"
    local out, ok = cosd.capture("cd " .. q(root) .. " && cc -std=c11 -Wall -Wextra -Werror" .. san ..
      " -Icsrc/include spec/c/stream_read.c " .. q(build .. "/lib/libcos.a") ..
      " -lcurl -lxml2 -ljansson -lssl -lcrypto -lm -o " .. q(exe) .. " 2>&1")
    assert(ok, out)
  end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function env()
    return ("COS_SECRETID=%s COS_SECRETKEY=%s COS_BUCKET=%s COS_REGION=%s COS_IP=%s "):format(
      q(cosd.SECRET_ID), q(cosd.SECRET_KEY), q(cosd.BUCKET), q(cosd.REGION), q(srv.endpoint))
  end

  it("on_read with 1, 7 and 65536-byte answers and COS_READ_AGAIN", function()
    local size = 3 * U.MIB + 99
    local out, ok = cosd.capture(env() .. q(exe) .. " callback c/cb.bin " .. size .. " 2>&1")
    assert(ok, out)
    assert.truthy(out:find("^ok \"[%x]+%-4\" " .. size), out)
    -- the same pattern, written by Lua
    local t = {}
    for i = 0, size - 1 do t[#t + 1] = string.char(i * 31 % 251) end
    U.write(dir .. "/cb.src", table.concat(t))
    assert.is_true((U.object_equals_file(cos, "c/cb.bin", dir .. "/cb.src")))
  end)

  it("a pipe on a descriptor, read by the core", function()
    local src = U.random_file(dir .. "/fd.src", 5 * U.MIB + 3)
    local out, ok = cosd.capture("cat " .. q(src) .. " | " .. env() .. q(exe) .. " fd c/fd.bin 2>&1")
    assert(ok, out)
    assert.truthy(out:find("^ok \"[%x]+%-6\" " .. (5 * U.MIB + 3)), out)
    assert.is_true((U.object_equals_file(cos, "c/fd.bin", src)))
  end)
end)
