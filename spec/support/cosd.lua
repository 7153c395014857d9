-- Starts and stops a real cosd process for specs: loopback only, a fresh data directory each time.
-- Usage: local server = cosd.start{ buckets = {...}, faults = {...}, extra = {...} }
--        server.port, server.endpoint ("127.0.0.1:PORT"), server.data, server.log (access log)
--        server:stop() (SIGTERM), server:kill() (SIGKILL), server:restart()
local M = {}

M.SECRET_ID = "AKIDcosdTESTsecretid0000000000000000"
M.SECRET_KEY = "cosdTESTsecretkey000000000000000"
M.BUCKET = "examplebucket-1250000000"
M.REGION = "ap-guangzhou"

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/cosd-spec.XXXXXX")
  local d = p:read("*l")
  p:close()
  return d
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function sleep(sec)
  os.execute("sleep " .. sec)
end

M.bin = os.getenv("COSD_BIN") or "build/bin/cosd"
M.tools = os.getenv("COS_TOOLS") or "build/bin"

-- External commands (curl, node, cosd) run without the sanitizer preload of the asan pass: they are
-- not instrumented (cosd links the runtime itself when built with it).
local UNPRELOAD = "env -u LD_PRELOAD "
function M.exec(cmd) return os.execute(UNPRELOAD .. "sh -c " .. sh_quote(cmd)) end
function M.popen(cmd, mode) return io.popen(UNPRELOAD .. "sh -c " .. sh_quote(cmd), mode) end
-- Runs a command and returns its stdout and its exit status (true/false).
function M.capture(cmd)
  local p = M.popen(cmd)
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

local Server = {}
Server.__index = Server

local function launch(self)
  os.remove(self.port_file)
  local args = { sh_quote(M.bin), "--listen", "127.0.0.1:" .. (self.fixed_port or 0), "--data", sh_quote(self.data),
    "--region", M.REGION, "--port-file", sh_quote(self.port_file), "--access-log", sh_quote(self.log),
    "--credentials", sh_quote(M.SECRET_ID .. ":" .. M.SECRET_KEY) }
  for _, b in ipairs(self.opts.buckets or { M.BUCKET }) do
    args[#args + 1] = "--bucket " .. sh_quote(b)
  end
  for _, f in ipairs(self.opts.faults or {}) do
    args[#args + 1] = "--fault " .. sh_quote(f)
  end
  for _, e in ipairs(self.opts.extra or {}) do
    args[#args + 1] = sh_quote(e)
  end
  local cmd = table.concat(args, " ") .. " >" .. sh_quote(self.stdout) .. " 2>>" .. sh_quote(self.stderr) ..
      " & echo $!"
  local p = M.popen(cmd)
  self.pid = tonumber(p:read("*l"))
  p:close()
  for _ = 1, 200 do
    local port = read_file(self.port_file)
    if port and tonumber(port) then
      self.port = tonumber(port)
      self.fixed_port = self.port
      self.endpoint = "127.0.0.1:" .. self.port
      return self
    end
    sleep(0.025)
  end
  error("cosd did not start: " .. (read_file(self.stderr) or ""))
end

function M.start(opts)
  local self = setmetatable({ opts = opts or {} }, Server)
  self.dir = tmpdir()
  self.data = self.opts.data or (self.dir .. "/data")
  self.port_file = self.dir .. "/port"
  self.log = self.dir .. "/access.log"
  self.stdout = self.dir .. "/stdout"
  self.stderr = self.dir .. "/stderr"
  return launch(self)
end

local function wait_gone(pid)
  for _ = 1, 400 do
    if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then return true end
    sleep(0.025)
  end
  return false
end

function Server:stop()
  if self.pid then
    os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
    wait_gone(self.pid)
    self.pid = nil
  end
end

function Server:kill()
  if self.pid then
    os.execute("kill -KILL " .. self.pid .. " 2>/dev/null")
    wait_gone(self.pid)
    self.pid = nil
  end
end

function Server:restart()
  self:stop()
  return launch(self)
end

function Server:cleanup()
  self:stop()
  os.execute("rm -rf " .. sh_quote(self.dir))
end

-- Access log lines parsed: {method, target, status, bytes_in, bytes_out, request_id}
function Server:access_log()
  local out = {}
  for line in (read_file(self.log) or ""):gmatch("[^\n]+") do
    local m, t, st, bin, bout, rid = line:match("^(%S+) (%S+) (%d+) (%d+) (%d+) (%S*)")
    if m then out[#out + 1] = { method = m, target = t, status = tonumber(st), bytes_in = tonumber(bin),
        bytes_out = tonumber(bout), request_id = rid } end
  end
  return out
end

function Server:stderr_text() return read_file(self.stderr) or "" end

-- Client options pointing lua-cos at this server (virtual-hosted Host, TCP to loopback).
function Server:client_options(extra)
  local o = { SecretId = M.SECRET_ID, SecretKey = M.SECRET_KEY, Protocol = "http:", Ip = self.endpoint }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

M.read_file = read_file
M.sh_quote = sh_quote
M.tmpdir = tmpdir
return M
