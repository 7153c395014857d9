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
    -- a sparse file of 2^40 + 1 bytes: its size comes back from the core in the task list, exactly
    local srv = cosd.start()
    local dir = cosd.tmpdir("lua-cos-runtime")
    local path = dir .. "/sparse.bin"
    local size = 2 ^ 40 + 1
    assert(cosd.exec(("truncate -s %.0f %s"):format(size, q(path))))
    local cos = COS.new(srv:client_options())
    local id = assert(cos:sliceUploadFile({ Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "sparse.bin",
      FilePath = path }, function() end))
    local seen
    for _ = 1, 200 do
      for _, t in ipairs(cos:getTaskList()) do if t.id == id then seen = t.size end end
      if seen then break end
      cos:poll(10)
    end
    cos:cancelTask(id)
    cos:close()
    srv:cleanup()
    cosd.exec("rm -rf " .. q(dir))
    assert.are.equal(size, seen)
    assert.are.equal("1099511627777", ("%.0f"):format(seen))
  end)
end)
