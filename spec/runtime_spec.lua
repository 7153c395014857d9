-- The interpreter of each pass (spec/run.sh runs the suite under Lua 5.1, 5.2, 5.3, 5.4 and
-- LuaJIT): the specs really run under it with the module built for it, `make env LUA=...` gives a
-- working `require "cos"` from any directory, and what differs by version (csrc/binding/compat.h)
-- behaves as documented.
local COS = require "cos"
local cosd = require "support.cosd"
local rt = require "support.runtime"
local it_if = rt.it_if(it, pending)

local q = cosd.sh_quote
local root = cosd.capture("pwd"):match("[^\n]+")
local LUA = cosd.LUA

describe("runtime", function()
  it("runs under the interpreter this pass names, with the module built for it", function()
    if LUA == "luajit" then
      assert.is_table(rt.jit)
    else
      assert.is_nil(rt.jit)
      assert.are.equal("Lua " .. LUA:match("^lua(%d%.%d)$"), _VERSION)
    end
    local build = os.getenv("COS_BUILD")
    if build then assert.truthy(package.cpath:find(build .. "/lua/?.so", 1, true), package.cpath) end
  end)

  it("make env LUA=<interpreter> makes require \"cos\" work from any directory", function()
    local out, ok = cosd.capture(("eval \"$(make -s -C %s env LUA=%s 2>/dev/null)\" && cd / && "
      .. "%s -e 'local c = require \"cos\"; print(_VERSION, c.VERSION, type(c.new))' && command -v cosd")
      :format(q(root), LUA, LUA))
    assert.is_true(ok, out)
    assert.truthy(out:find("Lua 5.%d\t" .. COS.VERSION:gsub("%p", "%%%0") .. "\tfunction\n"), out)
    assert.truthy(out:find("/bin/cosd\n", 1, true), out)
  end)

  it("sets __close on the client only where the language has it, and __gc everywhere", function()
    local cos = COS.new {}
    local mt = getmetatable(cos._client)
    assert.is_function(mt.__gc)
    if rt.has_close then assert.is_function(mt.__close) else assert.is_nil(mt.__close) end
    cos:close()
  end)

  it("keeps numbers exact up to 2^53, also where every number is a double (5.1, 5.2, LuaJIT)", function()
    -- Expires goes from Lua through the binding into the core and comes back in the URL's signature
    -- time as text: start;start+Expires
    local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY }
    local expires = 2 ^ 40 + 1
    local url = assert(cos:getObjectUrl { Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "k", Sign = true,
      Expires = expires })
    cos:close()
    local a, b = url:match("q%-sign%-time=(%d+)%%3B(%d+)")
    if not a then a, b = url:match("q%-sign%-time=(%d+);(%d+)") end
    assert.truthy(a, url)
    assert.are.equal(expires, tonumber(b) - tonumber(a))
  end)
end)
