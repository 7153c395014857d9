-- uploadFiles: one task per file, aggregated onProgress, onFileFinish per file (top level and the
-- file's own), and a final callback with data.files in input order that always fires, even when
-- a file failed or was canceled (the Node SDK's never fires after a cancel).
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

describe("uploadFiles", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  it("uploads small and large files and reports each, in input order", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 20 })
    local sizes = { 3 * MIB, 1000, 2 * MIB + 5, 0, 300 * 1024 }
    local files, own = {}, {}
    for i, n in ipairs(sizes) do
      local p = U.random_file(dir .. "/f" .. i, n)
      files[i] = U.params("batch/f" .. i, { FilePath = p,
        onFileFinish = function(err) own[#own + 1] = { i, err } end })
    end
    files[6] = U.params("batch/body.txt", { Body = "a body string" })
    local prog = U.progress_recorder()
    local finished = {}
    local result, cb_err
    local id = cos:uploadFiles({ files = files, SliceSize = MIB, onProgress = prog.fn,
      onFileFinish = function(err, data, options)
        finished[#finished + 1] = options.Index
        assert.is_nil(err)
        assert.are.equal(200, data.statusCode)
        assert.is_number(options.TaskId)
        assert.are.equal("string", type(options.Index))
      end }, function(err, data) cb_err, result = err, data end)
    assert.is_number(id)
    cos:run()
    assert.is_nil(cb_err)
    assert.are.equal(6, #result.files)
    for i = 1, 6 do
      local f = result.files[i]
      assert.is_nil(f.error)
      assert.are.equal(200, f.data.statusCode)
      assert.are.equal(tostring(i - 1), f.options.Index)
      assert.are.equal(files[i].Key, f.options.Key)
    end
    assert.truthy(result.files[1].data.UploadId) -- 3 MiB > SliceSize: multipart
    assert.is_nil(result.files[2].data.UploadId)
    assert.are.equal(6, #finished)
    assert.are.equal(5, #own)
    assert.is_false(prog.backwards)
    assert.are.equal(1, prog.last().percent)
    assert.are.equal(3 * MIB + 1000 + 2 * MIB + 5 + 300 * 1024 + 13, prog.last().total)
    for i = 1, 5 do assert.is_true(U.object_equals_file(cos, "batch/f" .. i, files[i].FilePath)) end
    -- each file is its own task in the list; uploadFiles itself is not
    assert.are.equal(6, #cos:getTaskList())
    cos:close()
    U.shutdown(srv)
  end)

  it("still calls back when a file is missing, fails, or is canceled", function()
    local srv = cosd.start { faults = { "op=PutObject,stall=400", "op=UploadPart,nth=1,times=50,status=500" } }
    local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 0, RetryTimes = 0 })
    local ok = U.random_file(dir .. "/ok.bin", 10)
    local big = U.random_file(dir .. "/big.bin", 2 * MIB)
    local slow = U.random_file(dir .. "/slow.bin", 20)
    local result
    local tasks = {}
    cos:uploadFiles({ files = {
      U.params("r/ok", { FilePath = ok }),
      U.params("r/missing", { FilePath = dir .. "/nope" }),
      U.params("r/big", { FilePath = big }),
      U.params("r/slow", { FilePath = slow }),
    }, onFileFinish = function(err, data, options) tasks[options.Key] = options.TaskId end },
      function(err, data) result = data end)
    -- cancel the slow one while its PUT is stalled
    local slow_id
    U.poll_until(cos, function()
      for _, t in ipairs(cos:getTaskList()) do
        if t.Key == "r/slow" and t.state == "uploading" then slow_id = t.id end
      end
      return slow_id
    end, 10)
    assert.truthy(slow_id)
    assert.is_true(cos:cancelTask(slow_id))
    cos:run()
    assert.truthy(result, "the final callback fired")
    assert.is_nil(result.files[1].error)
    assert.are.equal("ENOENT", result.files[2].error.code)
    assert.are.equal(500, result.files[3].error.statusCode)
    assert.are.equal("TaskCanceled", result.files[4].error.code)
    assert.are.equal(slow_id, tasks["r/slow"])
    cos:close()
    U.shutdown(srv)
  end)

  it("validates the files list synchronously", function()
    local cos = COS.new { SecretId = "AKIDx", SecretKey = "k" }
    local data, err = cos:uploadFiles { files = { { Bucket = U.BUCKET, Region = U.REGION, FilePath = "/etc/hostname" } } }
    assert.is_nil(data)
    assert.truthy(err.message:find("files%[1%]"))
    data, err = cos:uploadFiles {}
    assert.is_nil(data)
    assert.truthy(err.message:find("files"))
    cos:close()
  end)
end)

-- files[i].onProgress / onTaskReady / onFileFinish (docs/api.md#cosuploadfilesparams-callback): the
-- functions of a file do not survive the conversion to C values, so the Lua layer keeps them by
-- index and dispatches from the core's per-file events (on_file_progress, on_file_finish, the task
-- list).
describe("uploadFiles per-file callbacks", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  it("files[i].onProgress gets that file's own progress; the top-level one the aggregate", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 1 })
    local sizes = { 2 * MIB + 5, 1000, 300 * 1024 }
    local files, recs = {}, {}
    for i, n in ipairs(sizes) do
      local p = U.random_file(dir .. "/p" .. i, n)
      recs[i] = U.progress_recorder()
      -- file 3 has no onProgress of its own
      files[i] = U.params("per/p" .. i, { FilePath = p, onProgress = i ~= 3 and recs[i].fn or nil })
    end
    local agg = U.progress_recorder()
    local result
    cos:uploadFiles({ files = files, SliceSize = MIB, onProgress = agg.fn },
      function(err, data) assert.is_nil(err); result = data end)
    cos:run()
    assert.truthy(result)
    for i = 1, 2 do
      local r = recs[i]
      assert.is_true(#r.events >= 1, "file " .. i .. " reported progress")
      assert.is_false(r.backwards)
      for _, e in ipairs(r.events) do assert.are.equal(sizes[i], e.total) end
      assert.are.equal(sizes[i], r.last().loaded)
      assert.are.equal(1, r.last().percent)
    end
    assert.is_true(#recs[1].events >= 2, "the multipart file reported along the way")
    assert.are.equal(0, #recs[3].events)
    assert.are.equal(sizes[1] + sizes[2] + sizes[3], agg.last().total)
    assert.are.equal(1, agg.last().percent)
    cos:close()
    U.shutdown(srv)
  end)

  it("files[i].onTaskReady gets the file's task id; files[i].onFileFinish(err, data) runs first", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false })
    local order, ready, own_args = {}, {}, {}
    local files = {}
    for i = 1, 3 do
      files[i] = U.params("per/r" .. i, {
        FilePath = U.random_file(dir .. "/r" .. i, 100 * i),
        onTaskReady = function(taskId) ready[i] = taskId end,
        onFileFinish = function(...)
          own_args[i] = select("#", ...)
          local err, data = ...
          assert.is_nil(err)
          assert.are.equal(200, data.statusCode)
          order[#order + 1] = "file" .. i
        end,
      })
    end
    files[2].onFileFinish = nil -- a file without its own onFileFinish
    local task_ids = {}
    local data, err = cos:uploadFiles { files = files,
      onFileFinish = function(e, d, options)
        local i = tonumber(options.Index) + 1
        task_ids[i] = options.TaskId
        order[#order + 1] = "top" .. i
      end }
    assert.is_nil(err)
    assert.are.equal(3, #data.files)
    for i = 1, 3 do
      assert.is_number(ready[i])
      assert.are.equal(task_ids[i], ready[i])
      -- the file's onFileFinish comes right before the top-level one of the same file
      local pos_top
      for k, v in ipairs(order) do if v == "top" .. i then pos_top = k end end
      assert.truthy(pos_top)
      if i ~= 2 then
        assert.are.equal("file" .. i, order[pos_top - 1])
        assert.are.equal(2, own_args[i])
      end
    end
    assert.is_nil(own_args[2])
    assert.are.equal(5, #order)
    -- the ids are the listed tasks', so the queue operations work with them
    for i = 1, 3 do assert.are.equal("success", U.state(cos, ready[i])) end
    cos:close()
    U.shutdown(srv)
  end)

  it("a failing file gets its own onFileFinish(err) and no completed progress", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 1 })
    local own_err, rec = nil, U.progress_recorder()
    local ok_rec = U.progress_recorder()
    local result
    cos:uploadFiles({ files = {
      U.params("per/missing", { FilePath = dir .. "/does-not-exist", onProgress = rec.fn,
        onFileFinish = function(err) own_err = err end }),
      U.params("per/ok", { Body = "fine", onProgress = ok_rec.fn }),
    } }, function(err, data) result = data end)
    cos:run()
    assert.truthy(own_err)
    assert.are.equal("ENOENT", own_err.code)
    for _, e in ipairs(rec.events) do assert.are_not.equal(1, e.percent) end
    assert.are.equal(4, ok_rec.last().loaded)
    assert.are.equal("ENOENT", result.files[1].error.code)
    assert.is_nil(result.files[2].error)
    cos:close()
    U.shutdown(srv)
  end)

  it("core: onFileProgress(index, progressData, taskId) reaches a top-level function too", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false })
    local seen = {}
    local data = assert(cos:uploadFiles { files = {
      U.params("per/a", { Body = "aaaa", onProgress = function() end }),
      U.params("per/b", { Body = "bbbbbbbb" }),
    }, onFileProgress = function(index, p, taskId)
      assert.is_number(taskId)
      seen[index] = p
    end })
    assert.are.equal(2, #data.files)
    assert.are.equal(4, seen[0].total)
    assert.are.equal(8, seen[1].total)
    assert.are.equal(1, seen[1].percent)
    cos:close()
    U.shutdown(srv)
  end)
end)

describe("uploadFiles' aggregate progress", function()
  it("is throttled by ProgressInterval, counts files done, failed and total, and smooths speed", function()
    local uv = require "luv"
    local srv = cosd.start()
    local dir = U.tmpdir()
    local cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 1000, RetryTimes = 0 })
    local files, bytes = {}, 0
    for i = 1, 300 do
      local n = 20000 + i
      files[i] = U.params("many/f" .. i, { FilePath = U.random_file(dir .. "/f" .. i, n) })
      bytes = bytes + n
    end
    files[301] = { Bucket = "nosuchbucket-1250000000", Region = U.REGION, Key = "x", FilePath = files[1].FilePath }
    local events = {}
    local t0 = uv.hrtime()
    local data = assert(cos:uploadFiles { files = files, onProgress = function(p) events[#events + 1] = p end })
    local elapsed_s = (uv.hrtime() - t0) / 1e9
    assert.truthy(data.files[301].error)
    -- one emission at the start, then at most one per second, plus the final one
    assert.is_true(#events <= 3 + math.floor(elapsed_s), #events .. " calls in " .. elapsed_s .. " s")
    local last = events[#events]
    assert.are.equal(301, last.filesTotal)
    assert.are.equal(300, last.filesDone)
    assert.are.equal(1, last.filesFailed)
    assert.are.equal(0, events[1].filesDone)
    local average = bytes / elapsed_s
    for _, p in ipairs(events) do
      assert.is_true(p.filesDone + p.filesFailed <= p.filesTotal)
      -- a rate over a short interval (a file finishing) cannot swing the speed far off
      assert.is_true(p.speed >= 0 and p.speed <= 20 * average, p.speed .. " B/s, average " .. average)
    end
    cos:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)
end)
