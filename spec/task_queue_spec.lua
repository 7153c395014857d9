-- The task queue: getTaskList, FileParallelLimit, pause / restart / cancel in every state, for
-- multipart and small-file uploads, list-update events, and many tasks queued at once.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

local function start_client(srv, extra)
  local o = { Checkpoint = false, ProgressInterval = 20 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return COS.new(srv:client_options(o))
end

local function wait_state(cos, id, state, timeout)
  return U.poll_until(cos, function() return U.state(cos, id) == state end, timeout or 20)
end

describe("task queue", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  describe("listing", function()
    it("lists every upload task with the Node SDK's fields, and fires list-update until cos:off", function()
      local srv = cosd.start()
      local cos = start_client(srv)
      local path = U.random_file(dir .. "/l.bin", 3 * MIB)
      local events, lists = 0, nil
      local function on_update(ev) events = events + 1; lists = ev.list end
      cos:on("list-update", on_update)
      local results = {}
      local id1 = cos:sliceUploadFile(U.params("l1.bin", { FilePath = path }), function(e) results[1] = e or true end)
      local id2 = cos:putObject(U.params("l2.txt", { Body = "hello" }), function(e) results[2] = e or true end)
      local id3 = cos:uploadFile(U.params("l3.bin", { FilePath = path }), function(e) results[3] = e or true end)
      cos:run()
      assert.are.same({ true, true, true }, results)
      local list = cos:getTaskList()
      assert.are.equal(3, #list)
      local t = list[1]
      assert.are.equal(id1, t.id)
      assert.are.equal(U.BUCKET, t.Bucket)
      assert.are.equal(U.REGION, t.Region)
      assert.are.equal("l1.bin", t.Key)
      assert.are.equal(path, t.FilePath)
      assert.are.equal("success", t.state)
      assert.are.equal(3 * MIB, t.loaded)
      assert.are.equal(3 * MIB, t.size)
      assert.are.equal(1, t.percent)
      assert.is_number(t.speed)
      assert.is_number(t.hashPercent)
      assert.is_nil(t.error)
      assert.are.equal(id2, list[2].id)
      assert.are.equal("", list[2].FilePath)
      assert.are.equal(id3, list[3].id)
      assert.is_true(events >= 2)
      assert.are.equal(3, #lists)
      assert.are.equal("success", lists[3].state)
      cos:off("list-update", on_update)
      local before = events
      cos:putObject(U.params("l4.txt", { Body = "x" }), function() end)
      cos:run()
      assert.are.equal(before, events)
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("FileParallelLimit", function()
    it("runs at most FileParallelLimit tasks at once; the others wait and never fail for it", function()
      local srv = cosd.start { faults = { "op=UploadPart,stall=30", "op=PutObject,stall=30" } }
      local cos = start_client(srv, { FileParallelLimit = 2 })
      local path = U.random_file(dir .. "/p.bin", 3 * MIB)
      local max_running, done, errs = 0, 0, 0
      cos:on("list-update", function(ev)
        local running = 0
        for _, t in ipairs(ev.list) do
          if t.state == "checking" or t.state == "uploading" then running = running + 1 end
        end
        if running > max_running then max_running = running end
      end)
      for i = 1, 12 do
        local key = "many/" .. i
        local cb = function(e) done = done + 1; if e then errs = errs + 1 end end
        if i % 2 == 0 then cos:sliceUploadFile(U.params(key, { FilePath = path }), cb)
        else cos:uploadFile(U.params(key, { FilePath = path, SliceSize = 10 * MIB }), cb) end
      end
      local waiting = 0
      for _, t in ipairs(cos:getTaskList()) do if t.state == "waiting" then waiting = waiting + 1 end end
      assert.are.equal(10, waiting)
      cos:run()
      assert.are.equal(12, done)
      assert.are.equal(0, errs)
      assert.are.equal(2, max_running)
      for _, t in ipairs(cos:getTaskList()) do assert.are.equal("success", t.state) end
      cos:close()
      U.shutdown(srv)
    end)

    it("queues 200 small uploads at once and finishes them all", function()
      local srv = cosd.start()
      local cos = start_client(srv, { FileParallelLimit = 5 })
      local ok = 0
      for i = 1, 200 do
        cos:putObject(U.params("small/" .. i, { Body = ("x"):rep(i) }), function(e) if not e then ok = ok + 1 end end)
      end
      cos:run()
      assert.are.equal(200, ok)
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("a multipart upload", function()
    local srv, cos, path
    before_each(function()
      srv = cosd.start { faults = { "op=UploadPart,stall=60", "op=ListMultipartUploads,stall=300" } }
      cos = start_client(srv, { FileParallelLimit = 1 })
      path = path or U.random_file(dir .. "/m.bin", 8 * MIB)
    end)
    after_each(function()
      cos:close()
      U.shutdown(srv)
    end)

    it("pauses and restarts while waiting", function()
      local r1, r2
      local a = cos:sliceUploadFile(U.params("w1.bin", { FilePath = path }), function(e) r1 = e or true end)
      local b = cos:sliceUploadFile(U.params("w2.bin", { FilePath = path }), function(e) r2 = e or true end)
      assert.are.equal("checking", U.state(cos, a))
      assert.are.equal("waiting", U.state(cos, b))
      assert.is_true(cos:pauseTask(b))
      assert.are.equal("paused", U.state(cos, b))
      assert.is_false(cos:pauseTask(b))
      cos:run() -- a finishes; b stays paused (run returns: nothing can happen without the caller)
      assert.are.equal(true, r1)
      assert.is_nil(r2)
      assert.are.equal("paused", U.state(cos, b))
      assert.is_true(cos:restartTask(b))
      assert.are.equal("checking", U.state(cos, b))
      cos:run()
      assert.are.equal(true, r2)
      assert.is_true(U.object_equals_file(cos, "w2.bin", path))
    end)

    it("pauses and restarts while checking", function()
      local r
      local id = cos:sliceUploadFile(U.params("c.bin", { FilePath = path }), function(e) r = e or true end)
      assert.are.equal("checking", U.state(cos, id))
      cos:poll(50)
      assert.is_true(cos:pauseTask(id))
      assert.are.equal("paused", U.state(cos, id))
      cos:run()
      assert.is_nil(r)
      assert.is_true(cos:restartTask(id))
      cos:run()
      assert.are.equal(true, r)
      assert.are.equal("success", U.state(cos, id))
      assert.is_true(U.object_equals_file(cos, "c.bin", path))
    end)

    it("pauses while uploading: in-flight parts stop, restart continues the same UploadId", function()
      local r
      local id = cos:sliceUploadFile(U.params("u.bin", { FilePath = path }), function(e, d) r = e or d end)
      assert.truthy(U.poll_parts(cos, srv, "u.bin", 2, 20))
      assert.are.equal("uploading", U.state(cos, id))
      assert.is_true(cos:pauseTask(id))
      assert.are.equal("paused", U.state(cos, id))
      local loaded = U.task(cos, id).loaded
      assert.is_true(loaded > 0)
      os.execute("sleep 0.3")
      cos:poll(0)
      local n = #U.part_puts(srv, "u.bin")
      os.execute("sleep 0.2")
      cos:run()
      assert.are.equal(n, #U.part_puts(srv, "u.bin")) -- nothing sent while paused
      assert.is_true(cos:restartTask(id))
      cos:run()
      assert.truthy(r.UploadId)
      assert.are.equal(1, #U.log_matching(srv, "POST", "%?uploads")) -- one upload, continued
      assert.is_true(#U.part_puts(srv, "u.bin") <= 8 + 3)          -- at most the aborted ones again
      assert.are.equal(1, U.task(cos, id).percent)
      assert.is_true(U.object_equals_file(cos, "u.bin", path))
    end)

    it("cancels while waiting, checking, uploading and paused: callbacks fire, no parts left", function()
      local res = {}
      local cb = function(k) return function(e, d) res[k] = e or d end end
      local up = cos:sliceUploadFile(U.params("x-up.bin", { FilePath = path }), cb("up"))
      local wt = cos:sliceUploadFile(U.params("x-wait.bin", { FilePath = path }), cb("wait"))
      local ps = cos:sliceUploadFile(U.params("x-paused.bin", { FilePath = path }), cb("paused"))
      assert.is_true(cos:pauseTask(ps))
      assert.is_true(cos:cancelTask(wt))
      assert.are.equal("canceled", U.state(cos, wt))
      assert.truthy(U.poll_parts(cos, srv, "x-up.bin", 2, 20))
      assert.is_true(cos:cancelTask(up))
      assert.is_true(cos:cancelTask(ps))
      assert.is_false(cos:cancelTask(ps))
      assert.is_false(cos:restartTask(ps))
      cos:run()
      for _, k in ipairs { "up", "wait", "paused" } do
        assert.are.equal("TaskCanceled", res[k] and res[k].code, k)
      end
      assert.are.equal("canceled", U.state(cos, up))
      assert.are.same({}, U.pending_uploads(cos, "x-up.bin"))
      assert.are.equal(1, #U.log_matching(srv, "DELETE", "^/x%-up%.bin%?uploadId="))
      -- a task canceled while checking
      local ck = cos:sliceUploadFile(U.params("x-check.bin", { FilePath = path }), cb("check"))
      cos:poll(20)
      assert.are.equal("checking", U.state(cos, ck))
      assert.is_true(cos:cancelTask(ck))
      cos:run()
      assert.are.equal("TaskCanceled", res.check.code)
      assert.are.same({}, U.pending_uploads(cos, "x-check.bin"))
      assert.is_nil((U.head(cos, "x-up.bin")))
    end)
  end)

  describe("finished tasks", function()
    it("restarts an errored upload (same UploadId), and cancel aborts an errored one's parts", function()
      local srv = cosd.start { faults = { "op=UploadPart,nth=3,times=2,status=503" } }
      local cos = start_client(srv, { ChunkRetryTimes = 0, FileParallelLimit = 1 })
      local path = U.random_file(dir .. "/e.bin", 6 * MIB)
      local e1, e2
      local a = cos:sliceUploadFile(U.params("e1.bin", { FilePath = path, AsyncLimit = 1 }), function(e) e1 = e end)
      local b = cos:sliceUploadFile(U.params("e2.bin", { FilePath = path, AsyncLimit = 1 }), function(e) e2 = e end)
      cos:run()
      assert.are.equal(503, e1 and e1.statusCode)
      assert.are.equal(503, e2 and e2.statusCode)
      assert.are.equal("error", U.state(cos, a))
      assert.are.equal(503, U.task(cos, a).error.statusCode)
      assert.are.equal(1, #U.pending_uploads(cos, "e1.bin"))
      assert.is_false(cos:pauseTask(a)) -- nothing to pause
      -- restart: the same upload continues; the callback already had its error, the list shows the rest
      assert.is_true(cos:restartTask(a))
      cos:run()
      assert.are.equal("success", U.state(cos, a))
      assert.is_false(cos:pauseTask(a))
      assert.is_false(cos:restartTask(a))
      assert.are.same({}, U.pending_uploads(cos, "e1.bin"))
      assert.are.equal(1, #U.log_matching(srv, "POST", "^/e1%.bin%?uploads"))
      assert.is_true(U.object_equals_file(cos, "e1.bin", path))
      -- cancel of the other errored task: its multipart upload is aborted on the server
      assert.is_true(cos:cancelTask(b))
      cos:run()
      assert.are.equal("canceled", U.state(cos, b))
      assert.are.same({}, U.pending_uploads(cos, "e2.bin"))
      -- cancel after success only changes the state (as the SDK); the object stays
      assert.is_true(cos:cancelTask(a))
      assert.are.equal("canceled", U.state(cos, a))
      assert.truthy((U.head(cos, "e1.bin")))
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("a small file (one PUT)", function()
    it("can be paused, restarted and canceled while uploading", function()
      local srv = cosd.start { faults = { "op=PutObject,stall=300" } }
      local cos = start_client(srv)
      local path = U.random_file(dir .. "/s.bin", 200 * 1024)
      local r
      local id = cos:uploadFile(U.params("s.bin", { FilePath = path }), function(e, d) r = e or d end)
      assert.truthy(U.poll_until(cos, function() return U.state(cos, id) == "uploading" end, 10))
      assert.is_true(cos:pauseTask(id))
      cos:run()
      assert.is_nil(r)
      assert.is_true(cos:restartTask(id))
      cos:run()
      assert.are.equal(200, r.statusCode)
      assert.is_true(U.object_equals_file(cos, "s.bin", path))
      local r2
      local id2 = cos:uploadFile(U.params("s2.bin", { FilePath = path }), function(e, d) r2 = e or d end)
      assert.truthy(U.poll_until(cos, function() return U.state(cos, id2) == "uploading" end, 10))
      assert.is_true(cos:cancelTask(id2))
      cos:run()
      assert.are.equal("TaskCanceled", r2.code)
      cos:close()
      U.shutdown(srv)
    end)

    it("refuses to pause a putObject whose body is pulled from a function", function()
      local srv = cosd.start { faults = { "op=PutObject,stall=200" } }
      local cos = start_client(srv)
      local sent = false
      local id = cos:putObject(U.params("pull.txt", { ContentLength = 5,
        Body = function() if sent then return nil end sent = true return "hello" end }), function() end)
      assert.is_false(cos:pauseTask(id))
      cos:run()
      assert.are.equal("success", U.state(cos, id))
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("a pulled body", function()
    it("cancels a putObject whose body is pulled, while its request is in flight", function()
      local srv = cosd.start { faults = { "op=PutObject,stall=300" } }
      local cos = start_client(srv)
      local sent, result = false, nil
      local id = cos:putObject(U.params("pull-cancel.txt", { ContentLength = 5,
        Body = function() if sent then return nil end sent = true return "hello" end }),
        function(e, d) result = e or d end)
      assert.truthy(U.poll_until(cos, function() return sent end, 10))
      assert.is_true(cos:cancelTask(id))
      -- keep the engine running past the moment the canceled request would have been answered
      assert(cos:putObject(U.params("after-cancel.txt", { Body = "x" })))
      cos:run()
      assert.are.equal("TaskCanceled", result.code)
      assert.are.equal("canceled", U.state(cos, id))
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("UploadQueueSize", function()
    -- Finishing a task used to trim its own queue entry and then read it (heap-use-after-free,
    -- caught by the ASan pass): more finished tasks than UploadQueueSize.
    it("keeps the newest UploadQueueSize entries, with more tasks than the queue holds", function()
      local srv = cosd.start()
      for _, size in ipairs { 1, 3 } do
        local cos = start_client(srv, { UploadQueueSize = size, FileParallelLimit = 2 })
        local done, ids = {}, {}
        for i = 1, 8 do
          ids[i] = cos:putObject(U.params(("q%d/%d.txt"):format(size, i), { Body = "b" .. i }),
            function(e, d) done[i] = e or d.statusCode end)
        end
        cos:run()
        for i = 1, 8 do assert.are.equal(200, done[i]) end
        -- finished entries are dropped oldest first, so which ones stay depends on finishing order
        local list, seen = cos:getTaskList(), {}
        assert.are.equal(size, #list)
        for _, t in ipairs(list) do
          assert.is_true(t.id >= ids[1] and t.id <= ids[8] and not seen[t.id])
          seen[t.id] = true
          assert.are.equal("success", t.state)
        end
        cos:close()
      end
      U.shutdown(srv)
    end)

    it("runs 1001 tasks with the default UploadQueueSize (1000)", function()
      local srv = cosd.start()
      local cos = start_client(srv, { FileParallelLimit = 8 })
      local ok = 0
      for i = 1, 1001 do
        cos:putObject(U.params("many/" .. i, { Body = "x" }), function(e) if not e then ok = ok + 1 end end)
      end
      cos:run()
      assert.are.equal(1001, ok)
      assert.are.equal(1000, #cos:getTaskList())
      cos:close()
      U.shutdown(srv)
    end)
  end)
end)
