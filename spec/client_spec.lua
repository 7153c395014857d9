-- The client object: options, bad input, lifetimes (close, __gc, <close>), the task queue API.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"
local rt = require "support.runtime"
local it_if = rt.it_if(it, pending)

local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local SECRET = "clientSPECsecretKEY0000000000000"

local function ok_params(extra)
  local p = { Bucket = BUCKET, Region = REGION, Key = "k.txt", Body = "x" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

describe("COS.new", function()
  it("returns a client with the Node SDK's method names", function()
    local cos = COS.new { SecretId = "AKIDx", SecretKey = SECRET }
    for _, m in ipairs { "putObject", "appendObject", "headObject", "getObject", "deleteObject", "getBucket",
      "postObject", "multipartList", "multipartInit", "multipartUpload", "multipartListPart",
      "multipartComplete", "multipartAbort", "sliceUploadFile", "uploadFile", "uploadFiles", "getObjectUrl",
      "getTaskList", "pauseTask", "restartTask", "cancelTask", "on", "off", "run", "poll" } do
      assert.are.equal("function", type(cos[m]), m)
    end
    assert.are.equal("function", type(COS.getAuthorization))
    cos:close()
  end)

  it("is also callable as COS(options), and options may be omitted", function()
    local a = COS { SecretId = "AKIDx", SecretKey = SECRET }
    local b = COS.new()
    assert.are.equal(getmetatable(a), getmetatable(b))
    a:close()
    b:close()
  end)

  it("never shows the SecretKey in tostring", function()
    local cos = COS.new { SecretId = "AKIDx", SecretKey = SECRET }
    assert.falsy(tostring(cos):find(SECRET, 1, true))
    assert.is_false(files.contains_anywhere(cos, SECRET))
    cos:close()
  end)

  it("raises an error naming a bad option", function()
    local ok, e = pcall(COS.new, { Protocol = "ftp:" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("Protocol", 1, true))
    ok, e = pcall(COS.new, { Timeout = "soon" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("Timeout", 1, true))
    ok, e = pcall(COS.new, { SecretId = 12 })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("SecretId", 1, true))
    ok, e = pcall(COS.new, { ForcePathStyle = true })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("ForcePathStyle", 1, true))
    ok, e = pcall(COS.new, "options")
    assert.is_false(ok)
    assert.truthy(tostring(e):find("options", 1, true))
  end)

  it("does not show the SecretKey when another option is bad", function()
    local ok, e = pcall(COS.new, { SecretKey = SECRET, Protocol = "gopher" })
    assert.is_false(ok)
    assert.falsy(tostring(e):find(SECRET, 1, true))
  end)
end)

describe("bad input", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open() end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function expect_param_error(params, name)
    local data, err = cos:putObject(params)
    assert.is_nil(data)
    assert.are.equal("table", type(err))
    assert.truthy(tostring(err.message):find(name, 1, true), "message '" .. tostring(err.message) .. "' should name " .. name)
    assert.is_nil(err.statusCode)
    return err
  end

  it("names a missing Bucket, Region or Key (sync form: nil, err)", function()
    expect_param_error({ Region = REGION, Key = "k", Body = "x" }, "Bucket")
    expect_param_error({ Bucket = BUCKET, Key = "k", Body = "x" }, "Region")
    expect_param_error({ Bucket = BUCKET, Region = REGION, Body = "x" }, "Key")
  end)

  it("names a badly formatted Bucket or Region", function()
    expect_param_error(ok_params { Bucket = "Bad_Bucket" }, "Bucket")
    expect_param_error(ok_params { Region = "ap guangzhou" }, "Region")
  end)

  it("calls the callback with the error in the async form", function()
    local got
    local id, err = cos:putObject({ Region = REGION, Key = "k", Body = "x" }, function(e, d) got = { e = e, d = d } end)
    assert.is_nil(id)
    assert.truthy(got)
    assert.are.equal(err, got.e)
    assert.truthy(tostring(got.e.message):find("Bucket", 1, true))
  end)

  it("raises for arguments of the wrong type, naming them", function()
    assert.has_error(function() cos:putObject("params") end)
    assert.has_error(function() cos:putObject(ok_params(), "not a function") end)
    local ok, e = pcall(cos.putObject, cos, ok_params { Body = 42 })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("Body", 1, true))
    ok, e = pcall(cos.putObject, cos, ok_params { Body = function() return nil end })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("ContentLength", 1, true))
    ok, e = pcall(cos.putObject, cos, ok_params { onProgress = "yes" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("onProgress", 1, true))
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "rb"))
    f:close()
    os.remove(tmp)
    ok, e = pcall(cos.putObject, cos, ok_params { Body = f })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("Body", 1, true))
    ok, e = pcall(cos.getObject, cos, { Bucket = BUCKET, Region = REGION, Key = "k", Output = 7 })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("Output", 1, true))
    ok, e = pcall(cos.putObject, nil, ok_params())
    assert.is_false(ok)
  end)

  it("sends no request for bad input", function()
    local before = #srv:access_log()
    cos:putObject { Region = REGION, Key = "k", Body = "x" }
    cos:putObject(ok_params { Bucket = "nope" })
    pcall(cos.putObject, cos, ok_params { Body = {} })
    cos:run()
    assert.are.equal(before, #srv:access_log())
  end)
end)

describe("lifetimes", function()
  local srv

  setup(function() srv = cosd.start() end)
  teardown(function() if srv then srv:cleanup() end end)

  it("close() aborts what is in flight without calling back, and is idempotent", function()
    local cos = COS.new(srv:client_options())
    local called = false
    cos:putObject({ Bucket = BUCKET, Region = REGION, Key = "c.bin", Body = ("c"):rep(4 * 1024 * 1024) },
      function() called = true end)
    cos:poll(0)
    cos:close()
    cos:close()
    assert.is_false(called)
    local ok, e = pcall(cos.putObject, cos, ok_params())
    assert.is_false(ok)
    assert.truthy(tostring(e):find("closed", 1, true))
  end)

  it("collects clients with tasks in flight without crashing", function()
    for round = 1, 5 do
      local cos = COS.new(srv:client_options())
      for n = 1, 4 do
        cos:putObject({ Bucket = BUCKET, Region = REGION, Key = ("gc/%d/%d"):format(round, n),
          Body = ("g"):rep(1024 * 1024), onProgress = function() end }, function() end)
      end
      cos:poll(10)
      cos = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end
    -- and a client that was never run
    do
      local cos = COS.new(srv:client_options())
      cos:putObject(ok_params(), function() end)
    end
    collectgarbage()
    collectgarbage()
  end)

  it_if(rt.has_close, "<close> variables exist only in Lua 5.4", "closes a <close> variable at the end of its scope",
    function()
      -- compiled from a string, so this file still loads where `<close>` is a syntax error
      local scoped = assert(rt.load([[
        local COS, options, params = ...
        local ref
        do
          local cos <close> = COS.new(options)
          ref = cos
          assert(cos:putObject(params))
        end
        return ref
      ]]))
      local ref = scoped(COS, srv:client_options(), ok_params { Key = "scoped.txt" })
      assert.has_error(function() ref:putObject(ok_params()) end)
    end)

  it("allows close() from inside a callback (done once the engine returns)", function()
    local cos = COS.new(srv:client_options())
    local second = false
    cos:putObject(ok_params { Key = "inner1" }, function() cos:close() end)
    cos:putObject(ok_params { Key = "inner2", Body = ("z"):rep(3 * 1024 * 1024) }, function() second = true end)
    cos:run()
    assert.has_error(function() cos:run() end)
    assert.is_boolean(second)
  end)

  it("runs callbacks on the coroutine that drives the engine", function()
    local cos = COS.new(srv:client_options())
    local seen = {}
    cos:putObject(ok_params { Key = "co1" }, function(err) seen[#seen + 1] = { err = err, co = coroutine.running() } end)
    local co = coroutine.create(function()
      cos:run()
      local data = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "co1" })
      coroutine.yield(data.statusCode)
      cos:putObject(ok_params { Key = "co2" }, function() seen[#seen + 1] = { co = coroutine.running() } end)
      cos:run()
      return "done"
    end)
    local ok, status = coroutine.resume(co)
    assert.is_true(ok)
    assert.are.equal(200, status)
    assert.are.equal(1, #seen)
    assert.is_nil(seen[1].err)
    assert.are.equal(co, seen[1].co)
    collectgarbage()
    local ok2, res = coroutine.resume(co)
    assert.is_true(ok2, res)
    assert.are.equal("done", res)
    assert.are.equal(co, seen[2].co)
    -- a callback that tries to yield fails cleanly, and the error surfaces from run()
    local co3 = coroutine.create(function()
      cos:putObject(ok_params { Key = "co3" }, function() coroutine.yield("nope") end)
      cos:run()
    end)
    local ok3, e3 = coroutine.resume(co3)
    assert.is_false(ok3)
    assert.truthy(tostring(e3):find("yield", 1, true))
    cos:run()
    cos:close()
  end)

  it("allows a callback to start more work and to drive poll() itself", function()
    local cos = COS.new(srv:client_options())
    local order = {}
    cos:putObject(ok_params { Key = "outer" }, function(err)
      assert.is_nil(err)
      order[#order + 1] = "outer"
      local data = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "outer" }) -- nested sync call
      order[#order + 1] = "head " .. data.statusCode
      cos:putObject(ok_params { Key = "chained" }, function() order[#order + 1] = "chained" end)
    end)
    cos:run()
    assert.are.same({ "outer", "head 200", "chained" }, order)
    cos:close()
  end)
end)

describe("task queue", function()
  local srv, cos

  setup(function()
    srv = cosd.start()
    cos = COS.new(srv:client_options())
  end)
  teardown(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
  end)

  it("lists putObject tasks and emits list-update events", function()
    local events = 0
    local last
    local function listener(ev) events = events + 1; last = ev.list end
    cos:on("list-update", listener)
    local id = cos:putObject(ok_params { Key = "queued.txt" }, function() end)
    local list = cos:getTaskList()
    local found
    for _, t in ipairs(list) do if t.id == id then found = t end end
    assert.truthy(found)
    assert.are.equal("queued.txt", found.Key)
    assert.are.equal(BUCKET, found.Bucket)
    cos:run()
    assert.is_true(events > 0)
    assert.are.equal("table", type(last))
    cos:off("list-update", listener)
    local before = events
    cos:putObject(ok_params { Key = "quiet.txt" }, function() end)
    cos:run()
    assert.are.equal(before, events)
  end)

  it("rejects unknown events", function()
    assert.has_error(function() cos:on("nope", function() end) end)
  end)

  it("cancels a task: it stops, and its callback gets a TaskCanceled error", function()
    local got
    local id = cos:putObject(ok_params { Key = "cancelled.bin", Body = ("q"):rep(8 * 1024 * 1024) },
      function(err, data) got = { err = err, data = data } end)
    assert.is_true(cos:cancelTask(id))
    cos:run()
    assert.is_nil(got.data)
    assert.are.equal("TaskCanceled", got.err.code)
    for _, t in ipairs(cos:getTaskList()) do
      if t.id == id then assert.are.equal("canceled", t.state) end
    end
    assert.is_false(cos:cancelTask(id)) -- already canceled
  end)

  it("pauses a waiting task: run() returns with it paused, restartTask resumes it", function()
    local c = COS.new(srv:client_options { FileParallelLimit = 1 })
    local done = {}
    c:putObject(ok_params { Key = "first.bin", Body = ("1"):rep(1024 * 1024) }, function(err) done.first = err or true end)
    local second = c:putObject(ok_params { Key = "second.bin", Body = ("2"):rep(1024 * 1024) },
      function(err) done.second = err or true end)
    assert.is_true(c:pauseTask(second))
    c:run() -- must not wait forever for the paused task
    assert.are.equal(true, done.first)
    assert.is_nil(done.second)
    local state
    for _, t in ipairs(c:getTaskList()) do if t.id == second then state = t.state end end
    assert.are.equal("paused", state)
    assert.is_true(c:restartTask(second))
    c:run()
    assert.are.equal(true, done.second)
    c:close()
  end)

  it("turns error tables into readable strings", function()
    local _, err = cos:putObject { Region = REGION, Key = "k", Body = "x" }
    assert.truthy(tostring(err):find("Bucket", 1, true))
  end)
end)
