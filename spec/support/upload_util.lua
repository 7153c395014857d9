-- Helpers for the upload engine specs (slice_upload, upload_file, upload_files, task_queue, resume):
-- real files on disk, the object's bytes fetched back and compared with cmp, the parts counted in
-- cosd's access log, and polling loops with a deadline.
local cosd = require "support.cosd"
local socket_ok, socket = pcall(require, "socket")

local M = {}

M.MIB = 1024 * 1024
M.BUCKET, M.REGION = cosd.BUCKET, cosd.REGION

function M.now()
  if socket_ok then return socket.gettime() end
  return os.time()
end

function M.tmpdir() return cosd.tmpdir("lua-cos-upload") end -- M.rmdir removes only these

function M.rmdir(d)
  if d and d:match("^/tmp/lua%-cos%-upload%.") then cosd.exec("rm -rf " .. cosd.sh_quote(d)) end
end

-- Stops a cosd with SIGKILL (SIGTERM makes it wait about 2 s for idle keep-alive connections) and
-- removes its directory.
function M.shutdown(srv)
  if not srv then return end
  if srv.pid then
    os.execute("kill -KILL " .. srv.pid .. " 2>/dev/null")
    M.wait_exit(srv.pid, 10) -- a zombie counts as gone (cosd's own wait uses kill -0)
    srv.pid = nil
  end
  cosd.exec("rm -rf " .. cosd.sh_quote(srv.dir))
end

-- Restarts a cosd (same port and data) with new faults, without cosd's slow SIGTERM path.
function M.restart(srv, faults)
  os.execute("kill -KILL " .. srv.pid .. " 2>/dev/null")
  M.wait_exit(srv.pid, 10)
  srv.pid = nil
  srv.opts.faults = faults or {}
  return srv:restart()
end

-- `size` random bytes at `path`.
function M.random_file(path, size)
  assert(cosd.exec(("head -c %d /dev/urandom > %s"):format(size, cosd.sh_quote(path))))
  return path
end

function M.same_file(a, b)
  return cosd.exec("cmp -s " .. cosd.sh_quote(a) .. " " .. cosd.sh_quote(b)) == true
end

function M.md5_file(path)
  return (cosd.capture("md5sum " .. cosd.sh_quote(path)):match("^(%x+)"))
end

-- Object params for `key` plus extra fields.
function M.params(key, extra)
  local p = { Bucket = M.BUCKET, Region = M.REGION, Key = key }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

-- Downloads `key` to a file next to `path` and compares it with `path` byte for byte.
function M.object_equals_file(cos, key, path)
  local out = path .. ".downloaded"
  os.remove(out)
  local data, err = cos:getObject(M.params(key, { Output = out }))
  if not data then return false, "getObject: " .. tostring(err and (err.code .. " " .. tostring(err.message))) end
  local same = M.same_file(path, out)
  os.remove(out)
  return same, same and nil or "the object's bytes differ from the file"
end

function M.head(cos, key)
  return cos:headObject(M.params(key))
end

-- cosd writes a log line after it has answered, so a client can see the answer first: wait until
-- the access log stops growing.
function M.settle(srv)
  local function size()
    local f = io.open(srv.log, "rb")
    if not f then return 0 end
    local n = f:seek("end")
    f:close()
    return n
  end
  local last = size()
  for _ = 1, 50 do
    os.execute("sleep 0.02")
    local now = size()
    if now == last then return end
    last = now
  end
end

function M.access_log(srv, raw)
  if not raw then M.settle(srv) end
  return srv:access_log()
end

-- The access log entries that upload a part of `key` (any status), with their part number.
-- raw: do not wait for the log to settle (polling loops).
function M.part_puts(srv, key, raw)
  local out = {}
  local prefix = "/" .. cosd.encode(key, true) .. "?"
  for _, l in ipairs(M.access_log(srv, raw)) do
    if l.method == "PUT" and l.target:sub(1, #prefix) == prefix then
      local n = l.target:match("[?&]partNumber=(%d+)")
      if n then
        l.part = tonumber(n)
        out[#out + 1] = l
      end
    end
  end
  return out
end

-- Part numbers that were uploaded successfully more than once (should be none after a resume).
function M.parts_sent_twice(srv, key)
  local seen, twice = {}, {}
  for _, l in ipairs(M.part_puts(srv, key)) do
    if l.status == 200 then
      if seen[l.part] then twice[#twice + 1] = l.part end
      seen[l.part] = true
    end
  end
  return twice, seen
end

-- Access log entries matching method and a Lua pattern on the target.
function M.log_matching(srv, method, pattern)
  local out = {}
  for _, l in ipairs(M.access_log(srv)) do
    if (not method or l.method == method) and l.target:find(pattern) then out[#out + 1] = l end
  end
  return out
end

-- Polls the client until pred() is true (or the deadline passes); returns pred()'s last value.
function M.poll_until(cos, pred, timeout)
  local deadline = M.now() + (timeout or 30)
  local v = pred()
  while not v and M.now() < deadline do
    cos:poll(10)
    v = pred()
  end
  return v
end

-- Polls until the access log has at least n successful part uploads of key.
function M.poll_parts(cos, srv, key, n, timeout)
  return M.poll_until(cos, function()
    local c = 0
    for _, l in ipairs(M.part_puts(srv, key, true)) do if l.status == 200 then c = c + 1 end end
    return c >= n
  end, timeout)
end

function M.task(cos, id)
  for _, t in ipairs(cos:getTaskList()) do
    if t.id == id then return t end
  end
end

function M.state(cos, id)
  local t = M.task(cos, id)
  return t and t.state
end

-- Progress recorder: checks that loaded never goes backwards and that the last emission is 1.
function M.progress_recorder()
  local r = { events = {}, backwards = false }
  function r.fn(p)
    local last = r.events[#r.events]
    if last and p.loaded < last.loaded then r.backwards = true end
    r.events[#r.events + 1] = { loaded = p.loaded, total = p.total, percent = p.percent, speed = p.speed }
  end
  function r.last() return r.events[#r.events] end
  return r
end

-- Pending multipart uploads of key on the server (through the client's multipartList).
function M.pending_uploads(cos, key)
  local data, err = cos:multipartList(M.params(nil, { Prefix = key }))
  assert(data, err and err.message)
  local ids = {}
  for _, u in ipairs(data.Upload or {}) do
    if u.Key == key then ids[#ids + 1] = u.UploadId end
  end
  return ids
end

-- Runs a Lua script in a separate process of this pass's interpreter (no sanitizer preload), in the background.
-- Returns its pid. env: LUA_PATH/LUA_CPATH as this process has them.
function M.spawn_sh(script_path, log_path)
  return M.spawn(script_path, log_path, "sh")
end

function M.spawn(script_path, log_path, interpreter)
  local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(cosd.sh_quote(package.path), cosd.sh_quote(package.cpath))
  -- the asan pass: an instrumented cos.core needs the sanitizer runtimes preloaded in the child too
  local preload = os.getenv("COS_SAN_PRELOAD")
  if preload and preload ~= "" then env = env .. " LD_PRELOAD=" .. cosd.sh_quote(preload) end
  local p = cosd.popen(("%s exec %s %s >%s 2>&1 & echo $!"):format(env, interpreter or cosd.LUA,
    cosd.sh_quote(script_path), cosd.sh_quote(log_path)))
  local pid = tonumber(p:read("*l"))
  p:close()
  return pid
end

-- Alive and not a zombie (an orphan may wait a while for its reaper).
function M.alive(pid)
  local stat = M.read("/proc/" .. pid .. "/stat")
  if not stat then return false end
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

function M.wait_exit(pid, timeout)
  local deadline = M.now() + (timeout or 60)
  while M.alive(pid) and M.now() < deadline do os.execute("sleep 0.05") end
  return not M.alive(pid)
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Starts cos[method](params) with a callback, recording every onHashProgress `loaded` in st.hashes;
-- on_first_hash(st) (optional) runs once, at the first emission with bytes hashed (st.acted: its
-- index). The callback sets st.err, st.data, st.done. Returns st (st.id: the task id).
function M.hashing_upload(cos, method, params, on_first_hash)
  local st = { hashes = {} }
  params.onHashProgress = function(p)
    st.hashes[#st.hashes + 1] = p.loaded
    if on_first_hash and not st.acted and p.loaded > 0 then st.acted = #st.hashes; on_first_hash(st) end
  end
  st.id = cos[method](cos, params, function(e, d) st.err, st.data = e, d; st.done = true end)
  return st
end

return M
