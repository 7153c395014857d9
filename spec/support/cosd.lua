-- Starts and stops a real cosd process for specs: loopback only, a fresh data directory each time.
-- Usage: local server = cosd.start{ buckets = {...}, faults = {...}, extra = {...} }
--        server.port, server.endpoint ("127.0.0.1:PORT"), server.data, server.log (access log),
--        server.reqlog (request log: server:request_log() parses it)
--        server:stop() (SIGTERM), server:kill() (SIGKILL), server:restart()
local M = {}

M.SECRET_ID = "AKIDcosdTESTsecretid0000000000000000"
M.SECRET_KEY = "cosdTESTsecretkey000000000000000"
M.BUCKET = "examplebucket-1250000000"
M.REGION = "ap-guangzhou"

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- A fresh directory /tmp/<prefix>.XXXXXX (default prefix "cosd-spec").
local function tmpdir(prefix)
  local p = M.popen("mktemp -d /tmp/" .. (prefix or "cosd-spec") .. ".XXXXXX") -- without the sanitizer preload
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
-- The interpreter of this pass (spec/run.sh sets it): child Lua processes run under it too.
M.LUA = os.getenv("COS_LUA") or "lua5.4"
M.tools = os.getenv("COS_TOOLS") or "build/bin"

-- External commands (curl, node, cosd) run without the sanitizer preload of the asan pass: they are
-- not instrumented (cosd links the runtime itself when built with it).
local UNPRELOAD = "env -u LD_PRELOAD "
-- Lua 5.1 and LuaJIT: os.execute returns system()'s status number and a popen'ed file's close()
-- only says true; 5.2+ return true/nil, "exit", code from both. M.execute and M.capture give the
-- 5.2 answers under every interpreter.
local OLD_EXEC = type(os.execute()) == "number"
function M.execute(cmd)
  if not OLD_EXEC then return os.execute(cmd) end
  local st = os.execute(cmd)
  local code = st >= 256 and math.floor(st / 256) or st
  return code == 0 or nil, "exit", code
end
function M.exec(cmd) return M.execute(UNPRELOAD .. "sh -c " .. sh_quote(cmd)) end
function M.popen(cmd, mode) return io.popen(UNPRELOAD .. "sh -c " .. sh_quote(cmd), mode) end
-- Runs a command and returns its stdout and its exit status (true/false).
function M.capture(cmd)
  if OLD_EXEC then cmd = "(" .. cmd .. "); echo \"cos-exit:$?\"" end
  local p = M.popen(cmd)
  local out = p:read("*a")
  local ok = p:close()
  if OLD_EXEC then
    local body, code = out:match("^(.-)cos%-exit:(%d+)\n$")
    out, ok = body or out, code == "0"
  end
  return out, ok
end

-- The pid of this Lua process (/proc/self is the reader itself).
local function own_pid()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return pid
end

local Server = {}
Server.__index = Server

local function launch(self)
  os.remove(self.port_file)
  local args = { sh_quote(M.bin), "--listen", "127.0.0.1:" .. (self.fixed_port or 0), "--data", sh_quote(self.data),
    "--region", M.REGION, "--port-file", sh_quote(self.port_file), "--access-log", sh_quote(self.log),
    "--request-log", sh_quote(self.reqlog),
    "--credentials", sh_quote(M.SECRET_ID .. ":" .. M.SECRET_KEY) }
  -- cosd stops by itself when this test process is gone, even if it crashed before its teardown.
  local self_pid = own_pid()
  if self_pid then args[#args + 1] = "--parent-pid " .. self_pid end
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
  self.reqlog = self.dir .. "/request.log"
  self.stdout = self.dir .. "/stdout"
  self.stderr = self.dir .. "/stderr"
  return launch(self)
end

-- True once pid has exited. cosd is not our child (the launching shell is gone), so whoever reaps it
-- may take its time: a zombie (state Z in /proc/PID/stat) counts as gone, though `kill -0` still
-- succeeds on it. Without /proc, falls back to `kill -0`.
local function exited(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if f then
    local stat = f:read("*l")
    f:close()
    local state = stat and stat:match(".*%) (%a)")
    return state == nil or state == "Z" or state == "X"
  end
  return not M.execute("kill -0 " .. pid .. " 2>/dev/null")
end

local function wait_gone(pid)
  for _ = 1, 400 do
    if exited(pid) then return true end
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

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64decode(s)
  local bits = s:gsub("[^%w%+/]", ""):gsub(".", function(c)
    local v = B64:find(c, 1, true) - 1
    local out = {}
    for i = 5, 0, -1 do out[#out + 1] = math.floor(v / 2 ^ i) % 2 end
    return table.concat(out)
  end)
  return (bits:gsub("%d%d%d?%d?%d?%d?%d?%d?", function(byte)
    if #byte ~= 8 then return "" end
    return string.char(tonumber(byte, 2))
  end))
end

-- Request log entries (cosd --request-log), oldest first: { method, target (raw), status, request_id,
--   headers = { {name, value}, ... } in the order received, header = { [lower-case name] = value }
--   (the last one of a name), body_length, body (nil when over 64 KiB) }.
-- cosd writes an entry before it answers (an unanswered request: when its connection ends): with
-- min_entries, waits (up to 5 s) until there are at least that many.
function Server:request_log(min_entries)
  local json = require "dkjson"
  local text = read_file(self.reqlog) or ""
  for _ = 1, 200 do
    local _, n = text:gsub("\n", "")
    if n >= (min_entries or 0) then break end
    sleep(0.025)
    text = read_file(self.reqlog) or ""
  end
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local e = assert(json.decode(line))
    if e.body_base64 then e.body = b64decode(e.body_base64) end
    e.header = {}
    for _, h in ipairs(e.headers) do e.header[h[1]:lower()] = h[2] end
    out[#out + 1] = e
  end
  return out
end

function Server:stderr_text() return read_file(self.stderr) or "" end

-- Client options pointing lua-cos at this server (virtual-hosted Host, TCP to loopback).
function Server:client_options(extra)
  -- ChunkSize: specs exercise many-part uploads with files of a few MiB, so they pin the Node SDK's
  -- 1 MiB part size; lua-cos's own default (8 MiB) is checked where a spec passes default_chunk.
  local o = { SecretId = M.SECRET_ID, SecretKey = M.SECRET_KEY, Protocol = "http:", Ip = self.endpoint,
    ChunkSize = 1024 * 1024 }
  for k, v in pairs(extra or {}) do o[k] = v end
  if o.ChunkSize == "default" then o.ChunkSize = nil end
  return o
end


-- ---- curl-driven requests (cosd specs) ----
-- Percent-encodes everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash).
function M.encode(s, keep_slash)
  return (s:gsub("[^A-Za-z0-9%-_%.~/]", function(c) return string.format("%%%02X", c:byte()) end)
    :gsub("/", keep_slash and "/" or "%%2F"))
end

local req_seq = 0
-- server:request{ method, key (raw bytes, default ""), query = {{name, value}, ...}, headers = {name = value},
--   sign_headers = {names...} (extra headers to sign), body (string) or body_file, out_file,
--   style = "vhost" | "path", sign = false | "query" (q-* parameters) | "merged" (one `sign` parameter) |
--   true (default: Authorization header), id, key_secret, key_time, bucket, region (of the vhost Host,
--   default M.REGION), extra_curl }
-- Returns status (number), headers (lower-case names), body (string, unless out_file).
function Server:request(o)
  req_seq = req_seq + 1
  local bucket = o.bucket or M.BUCKET
  local key = o.key or ""
  local vhost = bucket .. ".cos." .. (o.region or M.REGION) .. ".myqcloud.com"
  local host, path, sign_path
  if (o.style or "vhost") == "path" then
    host = "127.0.0.1:" .. self.port
    path = "/" .. M.encode(bucket, false) .. "/" .. M.encode(key, true)
    sign_path = "/" .. bucket .. "/" .. key
  else
    host = vhost
    path = "/" .. M.encode(key, true)
    sign_path = "/" .. key
  end
  local q = {}
  for _, kv in ipairs(o.query or {}) do
    q[#q + 1] = M.encode(kv[1]) .. (kv[2] ~= nil and ("=" .. M.encode(kv[2])) or "")
  end
  local method = o.method or "GET"
  local args = { "curl", "--path-as-is", "-s", "-S", "--max-time", tostring(o.timeout or 60), "-o", nil, "-D", nil, "-w", "'%{http_code}'" }
  local base = self.dir .. "/req" .. req_seq
  args[8] = M.sh_quote(o.out_file or (base .. ".body"))
  args[10] = M.sh_quote(base .. ".hdr")
  if method == "HEAD" then args[#args + 1] = "--head"
  else args[#args + 1] = "-X " .. method end
  local headers = {}
  for k, v in pairs(o.headers or {}) do headers[k] = v end
  if o.style ~= "path" then args[#args + 1] = "-H " .. M.sh_quote("Host: " .. host) end
  if o.sign ~= false then
    local sa = { M.sh_quote(M.tools .. "/cos-sign"), "--method", method, "--path", M.sh_quote(sign_path),
      "--header", M.sh_quote("host:" .. host) }
    if o.id then sa[#sa + 1] = "--id " .. M.sh_quote(o.id) end
    if o.key_secret then sa[#sa + 1] = "--key " .. M.sh_quote(o.key_secret) end
    if o.key_time then sa[#sa + 1] = "--key-time " .. M.sh_quote(o.key_time) end
    for _, n in ipairs(o.sign_headers or {}) do
      -- "name" signs the sent value; "name:value" signs that value instead (tamper tests)
      sa[#sa + 1] = "--header " .. M.sh_quote(n:find(":") and n or (n .. ":" .. (headers[n] or "")))
    end
    for _, kv in ipairs(o.query or {}) do
      sa[#sa + 1] = "--param " .. M.sh_quote(kv[1] .. "=" .. (kv[2] or ""))
    end
    local auth = M.capture(table.concat(sa, " ")):gsub("%s+$", "")
    if o.tamper then auth = o.tamper(auth) end
    if o.sign == "merged" then
      q[#q + 1] = "sign=" .. M.encode(auth)
    elseif o.sign == "query" then
      for pair in auth:gmatch("[^&]+") do
        local k, v = pair:match("^([^=]+)=(.*)$")
        q[#q + 1] = k .. "=" .. M.encode(v)
      end
    else
      headers["Authorization"] = auth
    end
  end
  for k, v in pairs(headers) do args[#args + 1] = "-H " .. M.sh_quote(k .. ": " .. v) end
  local body_file = o.body_file
  if o.body then
    body_file = base .. ".in"
    local f = assert(io.open(body_file, "wb"))
    f:write(o.body)
    f:close()
  end
  if body_file then
    args[#args + 1] = "--data-binary @" .. M.sh_quote(body_file)
    if not headers["Content-Type"] and not headers["content-type"] then args[#args + 1] = "-H 'Content-Type:'" end
  end
  if o.extra_curl then args[#args + 1] = o.extra_curl end
  local url = "http://127.0.0.1:" .. self.port .. path .. (#q > 0 and ("?" .. table.concat(q, "&")) or "")
  if o.raw_target then url = "http://127.0.0.1:" .. self.port .. o.raw_target end
  args[#args + 1] = M.sh_quote(url)
  local out = M.capture(table.concat(args, " ") .. " 2>/dev/null")
  local status = tonumber(out) or 0
  local hdrs = {}
  for line in (read_file(base .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then hdrs[k:lower()] = v end
  end
  local body = nil
  if not o.out_file then body = read_file(base .. ".body") or "" end
  if method == "HEAD" and body then
    -- curl --head also writes the header block to -o; what follows it would be a body
    local hb = read_file(base .. ".hdr") or ""
    if body:sub(1, #hb) == hb then body = body:sub(#hb + 1) end
  end
  os.remove(base .. ".hdr"); os.remove(base .. ".body"); if o.body then os.remove(base .. ".in") end
  return status, hdrs, body
end

-- server:raw_request(method, key, header_lines, body): one request written byte for byte on a plain
-- socket (bash /dev/tcp), for headers curl would not send as given. Signed over Host only (vhost
-- style); header_lines are raw "Name: value" strings (any bytes but LF). Returns status, headers
-- (lower-case names, values as received), body.
function Server:raw_request(method, key, header_lines, body)
  req_seq = req_seq + 1
  body = body or ""
  local host = M.BUCKET .. ".cos." .. M.REGION .. ".myqcloud.com"
  local auth = M.capture(M.sh_quote(M.tools .. "/cos-sign") .. " --method " .. method .. " --path "
    .. M.sh_quote("/" .. key) .. " --header " .. M.sh_quote("host:" .. host)):gsub("%s+$", "")
  local lines = { method .. " /" .. M.encode(key, true) .. " HTTP/1.1", "Host: " .. host, "Authorization: " .. auth,
    "Content-Length: " .. #body, "Connection: close" }
  for _, l in ipairs(header_lines or {}) do lines[#lines + 1] = l end
  local base = self.dir .. "/raw" .. req_seq
  local f = assert(io.open(base .. ".in", "wb"))
  f:write(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body)
  f:close()
  M.exec(string.format('bash -c "exec 3<>/dev/tcp/127.0.0.1/%d && cat %s >&3 && timeout 20 cat <&3 >%s"',
    self.port, M.sh_quote(base .. ".in"), M.sh_quote(base .. ".out")))
  local resp = read_file(base .. ".out") or ""
  os.remove(base .. ".in"); os.remove(base .. ".out")
  local head, rest = resp:match("^(.-)\r\n\r\n(.*)$")
  local status = tonumber((head or ""):match("^HTTP/1%.%d (%d+)")) or 0
  local hdrs = {}
  for line in (head or ""):gmatch("[^\n]+") do
    local k, v = line:match("^([^:]+): ?(.-)\r?$")
    if k then hdrs[k:lower()] = v end
  end
  return status, hdrs, rest or ""
end

-- Error code from a COS XML error body.
function M.err_code(body) return body and body:match("<Code>(.-)</Code>") end

-- The usual spec fixture: a fresh cosd, a lua-cos client on it (client_options + extra) and a
-- scratch directory. `local srv, cos, dir` ... setup(function() srv, cos, dir = cosd.open(extra) end)
-- teardown(function() cosd.close(srv, cos, dir) end)
function M.open(extra)
  local srv = M.start()
  local cos = require("cos").new(srv:client_options(extra))
  return srv, cos, tmpdir()
end

function M.close(srv, cos, dir)
  if cos then cos:close() end
  if srv then srv:cleanup() end
  if dir then M.exec("rm -rf " .. sh_quote(dir)) end
end

M.read_file = read_file
M.sh_quote = sh_quote
M.tmpdir = tmpdir
return M
