-- An error raised in a task's callback belongs to that task: the task fails (its final callback gets
-- {code = "CallbackError"}, its multipart upload is aborted), and the error value is re-raised
-- once, by the run/poll that delivered it (or the task's own start/wait), never by a call made for
-- another task.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

local function client(srv, extra)
  local o = { Checkpoint = false, ChunkSize = MIB, ProgressInterval = 10 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return COS.new(srv:client_options(o))
end

local function uploads_of(cos, key)
  local data = assert(cos:multipartList { Bucket = U.BUCKET, Region = U.REGION, Prefix = key })
  return #(data.Upload or {})
end

describe("a callback that raises", function()
  local dir, srv
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start { faults = { "op=UploadPart,stall=50" } }
  end)
  teardown(function()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("onProgress: the task fails, its multipart upload is aborted, run() raises the value once", function()
    local cos = client(srv)
    local path = U.random_file(dir .. "/p.bin", 4 * MIB)
    local value = { reason = "progress handler failed" }
    local calls, result = 0, nil
    cos:sliceUploadFile(U.params("p.bin", { FilePath = path, onProgress = function(p)
      if p.loaded > 0 then calls = calls + 1; error(value) end
    end }), function(err, data) result = { err = err, data = data } end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal(value, e) -- the original value, unchanged
    assert.truthy(cos._client:callback_traceback():find("stack traceback", 1, true))
    cos:run() -- the abort finishes; nothing is raised again
    assert.are.equal(1, calls)
    assert.is_nil(result.data)
    assert.are.equal("CallbackError", result.err.code)
    assert.truthy(result.err.message:find("onProgress", 1, true))
    assert.are.equal("error", U.state(cos, cos:getTaskList()[1].id))
    assert.are.equal(0, uploads_of(cos, "p.bin"))
    local _, herr = U.head(cos, "p.bin")
    assert.are.equal(404, herr.statusCode)
    cos:close()
  end)

  it("is not raised by a synchronous call of another operation, but by the next run()", function()
    local cos = client(srv)
    local result, in_sync, raised_in_sync
    cos:putObject(U.params("a.bin", { Body = ("a"):rep(MIB), onProgress = function()
      raised_in_sync = in_sync
      error("A's handler", 0)
    end }), function(err) result = err end)
    -- A's first onProgress is queued as it starts: the sync call's first engine step delivers it
    in_sync = true
    local data, err = cos:putObject(U.params("b.txt", { Body = "b" }))
    in_sync = false
    assert.is_true(raised_in_sync)
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    assert.truthy(U.head(cos, "b.txt"))
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("A's handler", e)
    cos:run()
    assert.are.equal(0, cos:poll(0))
    assert.are.equal("CallbackError", result.code)
    cos:close()
  end)

  it("poll() raises it once; the other tasks go on", function()
    local cos = client(srv)
    local bad, good
    cos:putObject(U.params("bad.txt", { Body = "x", onProgress = function() error("bad one", 0) end }),
      function(err) bad = err end)
    cos:putObject(U.params("good.txt", { Body = "y" }), function(err, data) good = err or data end)
    local raised = 0
    for _ = 1, 2000 do
      local ok, n = pcall(cos.poll, cos, 20)
      if not ok then
        raised = raised + 1
        assert.are.equal("bad one", n)
      elseif n == 0 then
        break
      end
    end
    assert.are.equal(1, raised)
    assert.are.equal("CallbackError", bad.code)
    assert.are.equal(200, good.statusCode)
    cos:close()
  end)

  it("onTaskReady: raised by the call that started the task, which then fails", function()
    local cos = client(srv)
    local result
    local ok, e = pcall(cos.putObject, cos, U.params("ready.txt", { Body = "r",
      onTaskReady = function() error("not ready", 0) end }), function(err, data) result = err or data end)
    assert.is_false(ok)
    assert.are.equal("not ready", e)
    cos:run() -- not raised again
    assert.are.equal("CallbackError", result.code)
    assert.truthy(result.message:find("onTaskReady", 1, true))
    cos:close()
  end)

  it("onHashProgress of sliceUploadFile: the upload fails and is aborted", function()
    local cos = client(srv)
    local path = U.random_file(dir .. "/h.bin", 2 * MIB)
    local result
    cos:sliceUploadFile(U.params("h.bin", { FilePath = path, onHashProgress = function() error("hash", 0) end }),
      function(err) result = err end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("hash", e)
    cos:run()
    assert.are.equal("CallbackError", result.code)
    assert.are.equal(0, uploads_of(cos, "h.bin"))
    cos:close()
  end)

  it("onFileFinish of uploadFile: the final callback gets the error", function()
    local cos = client(srv)
    local path = U.random_file(dir .. "/f.bin", 1000)
    local result
    cos:uploadFile(U.params("f.bin", { FilePath = path, onFileFinish = function() error("finish", 0) end }),
      function(err, data) result = err or data end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("finish", e)
    assert.are.equal("CallbackError", result.code)
    assert.truthy(result.message:find("onFileFinish", 1, true))
    cos:close()
  end)

  it("a file's onProgress in uploadFiles fails the whole call; its other files are canceled", function()
    local cos = client(srv, { FileParallelLimit = 1 })
    local p1 = U.random_file(dir .. "/u1.bin", 3 * MIB)
    local p2 = U.random_file(dir .. "/u2.bin", 3 * MIB)
    local result
    cos:uploadFiles({ files = {
      U.params("u1.bin", { FilePath = p1, onProgress = function(p) if p.loaded > 0 then error("file 1", 0) end end }),
      U.params("u2.bin", { FilePath = p2 }),
    }, SliceSize = MIB }, function(err, data) result = { err = err, data = data } end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("file 1", e)
    cos:run()
    assert.is_nil(result.data)
    assert.are.equal("CallbackError", result.err.code)
    for _, t in ipairs(cos:getTaskList()) do assert.are.equal("canceled", t.state) end
    assert.are.equal(0, uploads_of(cos, "u1.bin") + uploads_of(cos, "u2.bin"))
    cos:close()
  end)

  it("a file's onTaskReady in uploadFiles: raised by the call, which fails", function()
    local cos = client(srv)
    local p1 = U.random_file(dir .. "/r1.bin", 3 * MIB)
    local result
    local ok, e = pcall(cos.uploadFiles, cos, { files = {
      U.params("r1.bin", { FilePath = p1 }),
      U.params("r2.txt", { Body = "two", onTaskReady = function() error("file 2 not ready", 0) end }),
    }, SliceSize = MIB }, function(err, data) result = { err = err, data = data } end)
    assert.is_false(ok)
    assert.are.equal("file 2 not ready", e)
    cos:run()
    assert.is_nil(result.data)
    assert.are.equal("CallbackError", result.err.code)
    assert.truthy(result.err.message:find("files[2].onTaskReady", 1, true))
    assert.are.equal(0, uploads_of(cos, "r1.bin"))
    cos:close()
  end)

  it("in a synchronous call's own onProgress: that call raises it", function()
    local cos = client(srv)
    local ok, e = pcall(cos.putObject, cos, U.params("sync.txt", { Body = "s",
      onProgress = function() error("mine", 0) end }))
    assert.is_false(ok)
    assert.are.equal("mine", e)
    assert.are.equal(0, cos:poll(0))
    assert.are.equal("error", cos:getTaskList()[1].state)
    cos:close()
  end)

  it("a list-update listener's error is raised by run(), not by a synchronous call", function()
    local cos = client(srv)
    local fired = false
    cos:on("list-update", function() if not fired then fired = true; error("listener", 0) end end)
    local data = assert(cos:putObject(U.params("l.txt", { Body = "l" })))
    assert.are.equal(200, data.statusCode)
    assert.is_true(fired)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("listener", e)
    cos:run()
    cos:close()
  end)
end)
