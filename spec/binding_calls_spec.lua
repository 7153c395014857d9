-- Every call from Lua into the core goes through one enter/leave pair in the binding: callbacks
-- run on the calling state, a call nested in a callback gives the outer one its state back, and
-- a callback's error is raised once, by the call that delivered it. These are the paths the other
-- specs do not take: the socket interface (socketAction) and a poll nested in a callback.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

describe("calls into the core", function()
  local srv, cos, dir

  before_each(function() srv, cos, dir = cosd.open { Checkpoint = false } end)
  after_each(function() cosd.close(srv, cos, dir) end)

  -- Drives the engine through the socket interface until done() or no task is left; returns the
  -- errors socketAction raised, in order.
  local function drive_sockets(done)
    local raised = {}
    local function act(fd, events)
      local ok, e = pcall(cos.socketAction, cos, fd, events)
      if not ok then raised[#raised + 1] = e end
      return ok and e or 1
    end
    for _ = 1, 100000 do
      if done() then break end
      local left = act(-1)
      for _, s in ipairs(cos:sockets()) do left = act(s.fd, s.events) end
      if left == 0 and done() then break end
    end
    return raised
  end

  it("socketAction raises a callback's error once; the other task goes on", function()
    local first, second
    cos:putObject(U.params("a.txt", { Body = "a" }), function(e, d)
      first = e or d
      error("boom from a callback", 0)
    end)
    cos:putObject(U.params("b.txt", { Body = "b" }), function(e, d) second = e or d end)
    local raised = drive_sockets(function() return first and second end)
    assert.are.same({ "boom from a callback" }, raised)
    assert.truthy(first.ETag, tostring(first))
    assert.truthy(second.ETag, tostring(second))
    -- nothing is raised twice: the engine is idle and clean
    assert.are.equal(0, cos:socketAction(-1))
    assert.are.equal(0, cos:poll(0))
  end)

  it("a poll nested in a callback raises its own delivery's error; the outer run goes on", function()
    local outer_done, inner_done, nested_error, co_outer, co_inner, later
    local runner = coroutine.create(function()
      cos:putObject(U.params("outer.txt", { Body = "o" }), function(e)
        outer_done = e or true
        co_outer = coroutine.running()
        cos:putObject(U.params("inner.txt", { Body = "i" }), function()
          inner_done = true
          co_inner = coroutine.running()
          error("inner callback failed", 0)
        end)
        local ok, err = pcall(function()
          while not inner_done do cos:poll(10) end
        end)
        nested_error = not ok and err or nil
        -- delivered by the outer run, on its state again
        cos:putObject(U.params("later.txt", { Body = "l" }), function(e2) later = e2 or coroutine.running() end)
      end)
      cos:run() -- does not raise: the nested poll raised (and its caller caught) the error
      return "ran"
    end)
    local ok, res = coroutine.resume(runner)
    assert.is_true(ok, tostring(res))
    assert.are.equal("ran", res)
    assert.are.equal(true, outer_done)
    assert.is_true(inner_done)
    assert.are.equal("inner callback failed", nested_error)
    -- both callbacks ran on the coroutine that drove the engine, the nested one included
    assert.are.equal(runner, co_outer)
    assert.are.equal(runner, co_inner)
    assert.are.equal(runner, later)
    assert.are.equal(0, cos:poll(0)) -- and the error is not raised again
  end)

  it("a close() from a callback of a synchronous call is done when that call returns", function()
    -- HEAD answers after 3 s: the PUT's callback comes first, while headObject drives the engine
    local slow = cosd.start { faults = { "op=HeadObject,stall=3000" } }
    local c = COS.new(slow:client_options { Checkpoint = false })
    local closed_in_callback
    c:putObject(U.params("c.txt", { Body = "c" }), function(e)
      assert(not e, tostring(e))
      c:close() -- the engine is still on the C stack: done when headObject returns
      closed_in_callback = true
    end)
    local data, err = c:headObject(U.params("c.txt"))
    U.shutdown(slow)
    assert.is_true(closed_in_callback)
    assert.is_nil(data)
    assert.are.equal("TaskCanceled", err.code)
    assert.has_error(function() c:poll(0) end, "cos client is closed")
  end)
end)
