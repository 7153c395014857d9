-- cos.cosd, the public kit for users' own tests: a cosd on a free port with a temporary directory,
-- client options for it, faults and extra arguments passed through, restart keeping the data,
-- stop removing everything; and the examples running outside the repository with it.
local COS = require "cos"
local kit = require "cos.cosd"
local support = require "support.cosd"

local BIN = os.getenv("COSD_BIN") or "build/bin/cosd"

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

describe("cos.cosd", function()
  it("starts cosd on a free port, gives client options for it, and stops it without a trace", function()
    local a = kit.start { bin = BIN }
    local b = kit.start { bin = BIN }
    assert.are_not.equal(a.port, b.port)
    assert.truthy(a.endpoint:match("^127%.0%.0%.1:%d+$"))
    local cos = COS.new(a:options { RetryTimes = 0 })
    local data, err = cos:putObject { Bucket = a.Bucket, Region = a.Region, Key = "k.txt", Body = "kit" }
    assert.is_nil(err)
    assert.truthy(data.ETag)
    local got = assert(cos:getObject { Bucket = a.Bucket, Region = a.Region, Key = "k.txt" })
    assert.are.equal("kit", got.Body)
    local dir, pid = a.dir, a.pid
    a:stop()
    a:stop() -- idempotent
    assert.is_false(exists(dir))
    local stat = support.read_file("/proc/" .. pid .. "/stat")
    assert.truthy(stat == nil or stat:match("^%d+ %b() (%a)") == "Z", stat) -- gone (or a zombie awaiting its reaper)
    local _, gone = cos:headObject { Bucket = a.Bucket, Region = a.Region, Key = "k.txt" }
    assert.are.equal("ECONNREFUSED", gone.code)
    cos:close()
    b:stop()
  end)

  it("passes faults and extra cosd arguments through, and restarts with the same port and data", function()
    local s = kit.start { bin = BIN, faults = { "op=PutObject,nth=1,status=503,code=SlowDown" },
      buckets = { "mine-1250000000" }, args = { "--region", "ap-beijing" } }
    assert.are.equal("mine-1250000000", s.Bucket)
    local cos = COS.new(s:options { RetryTimes = 0 })
    local p = { Bucket = s.Bucket, Region = "ap-beijing", Key = "f.txt", Body = "x" }
    local _, err = cos:putObject(p)
    assert.are.equal("SlowDown", err.code)
    assert(cos:putObject(p))
    local _, nob = cos:putObject { Bucket = kit.BUCKET, Region = "ap-beijing", Key = "f.txt", Body = "x" }
    assert.are.equal("NoSuchBucket", nob.code)
    local port = s.port
    s:restart()
    assert.are.equal(port, s.port)
    assert(cos:headObject { Bucket = s.Bucket, Region = "ap-beijing", Key = "f.txt" })
    cos:close()
    s:stop()
  end)

  it("passes bandwidth and latency shaping to cosd", function()
    local s = kit.start { bin = BIN, bandwidth = 4 * 1024 * 1024, latency = 20 }
    local cos = COS.new(s:options { RetryTimes = 0 })
    local body = ("x"):rep(2 * 1024 * 1024)
    assert(cos:putObject { Bucket = s.Bucket, Region = s.Region, Key = "shaped.bin", Body = body })
    local got = assert(cos:getObject { Bucket = s.Bucket, Region = s.Region, Key = "shaped.bin" })
    assert.are.equal(#body, #got.Body)
    cos:close()
    s:stop()
    local bad = pcall(kit.start, { bin = BIN, bandwidth = "lots" })
    assert.is_false(bad) -- cosd refuses it, and the kit says so
  end)

  it("names the binary when cosd cannot start", function()
    local ok, e = pcall(kit.start, { bin = "/nonexistent/cosd" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("/nonexistent/cosd", 1, true), tostring(e))
  end)

  it("lets an example run outside the repository (no spec/ helpers on the path)", function()
    local root = support.capture("pwd"):match("[^\n]+")
    local tmp = support.tmpdir("lua-cos-outside")
    assert(support.exec(("cp %s/examples/example_env.lua %s/examples/put_object_string.lua %s/"):format(
      support.sh_quote(root), support.sh_quote(root), support.sh_quote(tmp))))
    -- only the installed-like module paths: lua/ and the built core, never spec/
    local lua_path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"
    local cpath = package.cpath
    local env = "env -u COS_SECRETID LUA_PATH=" .. support.sh_quote(lua_path) .. " LUA_CPATH=" ..
        support.sh_quote(cpath) .. " COSD_BIN=" .. support.sh_quote(BIN:sub(1, 1) == "/" and BIN or (root .. "/" .. BIN))
    local preload = os.getenv("COS_SAN_PRELOAD")
    if preload and preload ~= "" then
      env = env .. " LD_PRELOAD=" .. support.sh_quote(preload) .. " ASAN_OPTIONS=detect_leaks=0"
    end
    local out, ok = support.capture("cd " .. support.sh_quote(tmp) .. " && " .. env ..
      " timeout 60 " .. support.LUA .. " put_object_string.lua 2>&1")
    support.exec("rm -rf " .. support.sh_quote(tmp))
    assert(ok, out)
    assert.falsy(out:find("FAILED:", 1, true), out)
  end)
end)
