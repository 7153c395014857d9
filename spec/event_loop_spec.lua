-- Driving lua-cos from a host's own loop: an idle cos:poll(ms) waits like poll(2) instead of
-- returning at once, and the socket interface (cos:sockets(), cos:timeout(), cos:socketAction())
-- lets libuv (luv, through cos.luv) run uploads with no polling at all.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"
local uv = require "luv"

local function ms_since(t0) return (uv.hrtime() - t0) / 1e6 end

describe("cos:poll(ms)", function()
  it("waits up to ms when nothing is in flight, as poll(2) does", function()
    local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY }
    local t0 = uv.hrtime()
    assert.are.equal(0, cos:poll(100))
    -- a lower bound only: a loaded machine can make the wait longer, never shorter
    assert.is_true(ms_since(t0) >= 95, ms_since(t0) .. " ms")
    cos:close()
  end)

  it("cos:run() still returns at once with nothing left to do", function()
    local srv = cosd.start()
    local cos = COS.new(srv:client_options { Checkpoint = false })
    local id = cos:putObject(U.params("p.txt", { Body = "x" }), function() end)
    assert.is_true(cos:pauseTask(id))
    local t0 = uv.hrtime()
    cos:run() -- only a paused task left: nothing can happen
    assert.is_true(ms_since(t0) < 900, ms_since(t0) .. " ms") -- a full idle poll step would take 1000
    cos:close()
    srv:cleanup()
  end)
end)

describe("the socket interface", function()
  local srv, dir
  before_each(function()
    dir = U.tmpdir()
    -- every part answer waits 300 ms: a loop that polled would spin meanwhile
    srv = cosd.start { faults = { "op=UploadPart,stall=300" } }
  end)
  after_each(function()
    srv:cleanup()
    U.rmdir(dir)
  end)

  it("lists nothing to watch and no timeout when idle, a due timeout once work is queued", function()
    local cos = COS.new(srv:client_options { Checkpoint = false })
    assert.are.same({}, cos:sockets())
    assert.are.equal(-1, cos:timeout())
    local done
    cos:putObject(U.params("t.txt", { Body = "x" }), function(e) done = e or true end)
    assert.are.equal(0, cos:timeout())
    -- driven by hand: the timeout, then whatever sockets it asks for (poll(2) through luv is
    -- not needed for this: socketAction on a socket that is not ready is harmless)
    local t0 = uv.hrtime()
    while not done and ms_since(t0) < 20000 do
      uv.sleep(1)
      local socks = cos:sockets()
      if #socks == 0 or cos:timeout() == 0 then cos:socketAction(-1) end
      for _, s in ipairs(socks) do
        assert.is_number(s.fd)
        assert.is_number(s.id)
        assert.truthy(s.events == "r" or s.events == "w" or s.events == "rw")
        cos:socketAction(s.fd, s.events)
      end
    end
    assert.are.equal(true, done)
    cos:close()
  end)

  it("runs uploads from a luv loop without polling, callbacks starting more work", function()
    local cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 50 })
    local actions = 0
    local real = cos.socketAction
    cos.socketAction = function(self, ...)
      actions = actions + 1
      return real(self, ...)
    end
    local path = U.random_file(dir .. "/big.bin", 6 * U.MIB)
    local driver = require("cos.luv").attach(cos, uv)
    local results, progress = {}, 0
    cos:sliceUploadFile(U.params("big.bin", { FilePath = path, AsyncLimit = 2,
      onProgress = function() progress = progress + 1 end }), function(e, d) results.big = e or d end)
    cos:putObject(U.params("small.txt", { Body = "hello" }), function(e)
      results.small = e or true
      cos:putObject(U.params("next.txt", { Body = "started from a callback" }), function(e2) results.next = e2 or true end)
    end)
    driver:update()
    uv.run()
    driver:detach()
    uv.run() -- lets libuv finish closing the watchers
    assert.are.equal(true, results.small)
    assert.are.equal(true, results.next)
    assert.truthy(results.big and results.big.ETag, tostring(results.big))
    assert.is_true(U.object_equals_file(cos, "big.bin", path))
    assert.is_true(progress >= 1)
    -- 6 parts, each answer stalled 300 ms: a loop that polled would step thousands of times in
    -- those 900+ ms; woken by sockets and timers only, lua-cos acts a few dozen times
    assert.is_true(actions < 400, actions .. " socketAction calls")
    assert.are.same({}, cos:sockets())
    cos:close()
  end)

  it("follows sockets that close and come back under the same fd number (cos.luv re-registers)", function()
    U.restart(srv, { "op=PutObject,drop-response,rate=0.4,seed=7" })
    local cos = COS.new(srv:client_options { Checkpoint = false, RetryTimes = 10 })
    local ids, fds_reused = {}, false
    local id_of_fd = {}
    local real = cos.sockets
    cos.sockets = function(self)
      local list = real(self)
      for _, s in ipairs(list) do
        ids[s.id] = true
        if id_of_fd[s.fd] and id_of_fd[s.fd] ~= s.id then fds_reused = true end
        id_of_fd[s.fd] = s.id
      end
      return list
    end
    local driver = require("cos.luv").attach(cos, uv)
    local done, errs = 0, {}
    local function next_put(i)
      if i > 20 then return end
      cos:putObject(U.params("seq" .. i .. ".txt", { Body = "n" .. i }), function(e)
        if e then errs[#errs + 1] = e end
        done = done + 1
        next_put(i + 1)
      end)
    end
    next_put(1)
    driver:update()
    uv.run()
    driver:detach()
    uv.run()
    assert.are.equal(20, done)
    assert.are.same({}, errs)
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.is_true(n >= 2, "dropped connections were replaced by new sockets")
    assert.is_true(fds_reused, "a new socket came back under a closed one's fd number")
    cos:close()
  end)
end)
