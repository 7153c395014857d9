-- cos.luv: drives lua-cos from a libuv loop (luv), with no polling: libuv watches the sockets
-- lua-cos lists (cos:sockets()) and one timer follows cos:timeout().
--
--   local uv = require "luv"
--   local cos = require("cos").new { ... }
--   local driver = require("cos.luv").attach(cos, uv)
--   cos:putObject({ ..., Body = "hi" }, function(err, data) ... end)
--   driver:update()        -- after starting operations outside a lua-cos callback
--   uv.run()               -- returns once nothing is left to watch
--   driver:detach()
--
-- Callbacks of lua-cos run inside libuv's callbacks. An error a callback raises propagates out of
-- uv.run() (luv reports it as it reports any callback error).
local M = {}

local Driver = {}
Driver.__index = Driver

-- Brings libuv's watchers in line with what lua-cos wants now.
function Driver:update()
  if self.closed then return end
  local cos, uv = self.cos, self.uv
  local want = {}
  for _, s in ipairs(cos:sockets()) do want[s.fd] = s end
  for fd, w in pairs(self.watchers) do
    local s = want[fd]
    if not s or s.id ~= w.id then -- gone, or the fd number now belongs to another socket
      w.handle:stop()
      w.handle:close()
      self.watchers[fd] = nil
    end
  end
  for fd, s in pairs(want) do
    local w = self.watchers[fd]
    if not w then
      w = { id = s.id, handle = uv.new_socket_poll(fd) }
      self.watchers[fd] = w
    end
    if w.events ~= s.events then
      w.events = s.events
      w.handle:start(s.events, function(_, events) self:act(fd, events or s.events) end)
    end
  end
  local t = cos:timeout()
  self.timer:stop()
  if t >= 0 then self.timer:start(t, 0, function() self:act(-1) end) end
end

function Driver:act(fd, events)
  if self.closed then return end
  self.cos:socketAction(fd, events)
  self:update()
end

-- Stops every watcher (the client stays usable, e.g. with cos:run()).
function Driver:detach()
  if self.closed then return end
  self.closed = true
  for fd, w in pairs(self.watchers) do
    w.handle:stop()
    w.handle:close()
    self.watchers[fd] = nil
  end
  self.timer:stop()
  self.timer:close()
end

--- attach(cos, uv) -> driver: lua-cos's sockets and timer join uv's default loop.
function M.attach(cos, uv)
  local d = setmetatable({ cos = cos, uv = uv, watchers = {}, timer = uv.new_timer() }, Driver)
  d:update()
  return d
end

return M
