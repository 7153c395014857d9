-- cos.cosd: a local COS server for your own tests and examples. Starts cosd (installed next to
-- lua-cos by `make install` / `luarocks make`) on a free loopback port with a temporary data
-- directory, and stops it. Nothing leaves the machine.
--
--   local cosd = require "cos.cosd"
--   local server = cosd.start()                 -- or cosd.start { faults = {"op=UploadPart,nth=2,status=503"} }
--   local cos = require("cos").new(server:options())  -- SecretId/SecretKey/Protocol/Ip for it
--   cos:putObject { Bucket = server.Bucket, Region = server.Region, Key = "a.txt", Body = "hi" }
--   server:stop()                               -- stops cosd, removes its directory
--
-- start(opts), all optional:
--   bin      the cosd executable (default: $COSD_BIN, else "cosd" from PATH)
--   buckets  bucket names ("name-appid") that exist (default: { cosd.BUCKET })
--   faults   cosd --fault specs (docs/cosd.md), e.g. "op=PutObject,stall=500"
--   bandwidth  bytes/s each request body and GET body is paced at (cosd --bandwidth)
--   latency    ms cosd waits before handling each request (cosd --latency): test progress
--              and timeouts offline
--   args     more cosd arguments, as a list of strings (each passed as one argument)
--   dir      a directory of your own for data and logs (kept at stop); default: a fresh one
-- The server object: endpoint ("127.0.0.1:PORT"), port, data (the objects on disk), access_log
-- (path of cosd's access log), Bucket, Region, SecretId, SecretKey, options(extra), stop(),
-- restart() (same port and data). cosd also stops by itself when the Lua process that started
-- it is gone.
local M = {}

M.SECRET_ID = "AKIDcosdTESTsecretid0000000000000000"
M.SECRET_KEY = "cosdTESTsecretkey000000000000000"
M.BUCKET = "examplebucket-1250000000"
M.REGION = "ap-guangzhou"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function sleep(sec) os.execute("sleep " .. sec) end

-- The pid of this Lua process: the parent of the shell io.popen starts.
local function own_pid()
  local out = capture("echo $PPID")
  return out:match("%d+")
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true or false end
  local stat = f:read("*l") or ""
  f:close()
  local state = stat:match(".*%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

local Server = {}
Server.__index = Server

local function launch(self)
  os.remove(self.port_file)
  local args = { q(self.bin), "--listen", "127.0.0.1:" .. (self.port or 0), "--data", q(self.data),
    "--region", M.REGION, "--port-file", q(self.port_file), "--access-log", q(self.access_log),
    "--credentials", q(M.SECRET_ID .. ":" .. M.SECRET_KEY) }
  local parent = own_pid()
  if parent then args[#args + 1] = "--parent-pid " .. parent end
  for _, b in ipairs(self.opts.buckets or { M.BUCKET }) do args[#args + 1] = "--bucket " .. q(b) end
  for _, f in ipairs(self.opts.faults or {}) do args[#args + 1] = "--fault " .. q(f) end
  if self.opts.bandwidth then args[#args + 1] = "--bandwidth " .. q(self.opts.bandwidth) end
  if self.opts.latency then args[#args + 1] = "--latency " .. q(self.opts.latency) end
  for _, a in ipairs(self.opts.args or {}) do args[#args + 1] = q(a) end
  local cmd = table.concat(args, " ") .. " >/dev/null 2>>" .. q(self.dir .. "/cosd.stderr") .. " & echo $!"
  self.pid = tonumber(capture(cmd):match("%d+"))
  for _ = 1, 400 do
    local port = tonumber(read_file(self.port_file) or "")
    if port then
      self.port = port
      self.endpoint = "127.0.0.1:" .. port
      return self
    end
    if self.pid and not alive(self.pid) then break end
    sleep(0.025)
  end
  local err = read_file(self.dir .. "/cosd.stderr") or ""
  self:stop()
  error("cosd did not start (" .. self.bin .. "): " .. err, 3)
end

--- start(opts) -> server (see the top of this file).
function M.start(opts)
  opts = opts or {}
  local self = setmetatable({ opts = opts, Bucket = (opts.buckets or { M.BUCKET })[1], Region = M.REGION,
    SecretId = M.SECRET_ID, SecretKey = M.SECRET_KEY }, Server)
  self.bin = opts.bin or os.getenv("COSD_BIN") or "cosd"
  if opts.dir then
    self.dir, self.own_dir = opts.dir, false
    os.execute("mkdir -p " .. q(opts.dir))
  else
    -- a unique name from Lua itself (mkstemp), the directory beside it (mkdir fails if taken)
    local name = os.tmpname()
    os.remove(name)
    self.dir, self.own_dir = name .. "-cosd", true
    if not os.execute("mkdir -m 700 " .. q(self.dir)) then error("cannot create " .. self.dir, 2) end
  end
  self.data = self.dir .. "/data"
  self.port_file = self.dir .. "/port"
  self.access_log = self.dir .. "/access.log"
  return launch(self)
end

--- server:options([extra]) -> options for COS.new talking to this server (plain HTTP, the
-- virtual-hosted Host kept, TCP to the loopback port); extra entries are added or override.
function Server:options(extra)
  local o = { SecretId = M.SECRET_ID, SecretKey = M.SECRET_KEY, Protocol = "http:", Ip = self.endpoint }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function terminate(self)
  if not self.pid then return end
  os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
  for _ = 1, 400 do
    if not alive(self.pid) then break end
    sleep(0.025)
  end
  self.pid = nil
end

--- server:restart(): stops cosd and starts it again on the same port with the same data.
function Server:restart()
  terminate(self)
  return launch(self)
end

--- server:stop(): stops cosd and removes its temporary directory. Idempotent.
function Server:stop()
  terminate(self)
  if self.own_dir and self.dir then os.execute("rm -rf " .. q(self.dir)) end
  self.own_dir = false
end

return M
