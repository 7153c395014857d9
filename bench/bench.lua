-- lua-cos benchmark driver (run through bench/run.sh, which sets BENCH_ROOT, BENCH_WORK, ...).
-- For each round, for each measurement: start a fresh cosd (new data dir on tmpfs), run one client
-- under GNU time, stop cosd, check from cosd's access log that the bytes arrived, drop the data dir.
-- Then medians, ratios, PASS/MISS per target, printed and written to bench/results.md.
local ROOT = assert(os.getenv("BENCH_ROOT"), "run through bench/run.sh")
local W = assert(os.getenv("BENCH_WORK"), "run through bench/run.sh")

local MiB = 1024 * 1024
local function envnum(name, dflt)
  local v = os.getenv(name)
  if v == nil or v == "" then return dflt end
  local n = tonumber(v)
  if not n or n <= 0 then error(name .. " must be a positive number, got " .. v) end
  return n
end

local C = {
  size_mb = math.floor(envnum("BENCH_SIZE_MB", 1024)),
  runs = math.floor(envnum("BENCH_RUNS", 3)),
  nfiles = math.floor(envnum("BENCH_FILES", 1000)),
  file_kb = math.floor(envnum("BENCH_FILE_KB", 4)),
  chunk_mb = envnum("BENCH_CHUNK_MB", 8),
  par = math.floor(envnum("BENCH_PARALLEL", 8)),
  fpar = math.floor(envnum("BENCH_FILE_PARALLEL", 8)),
  node_defaults = os.getenv("BENCH_NODE_DEFAULTS") ~= "0",
}
-- RSS growth check: the same sliceUploadFile on a smaller file (256 MiB, or a quarter of a small size)
C.small_mb = math.floor(envnum("BENCH_SMALL_MB", C.size_mb >= 512 and 256 or math.max(1, C.size_mb // 4)))
-- Stream uploads: an extra size uploaded from a generator pipe (head -c N /dev/zero), no file
-- needed: the flatness check up to 4 GiB. Default 4096 MiB on a full-size run (1 GiB file), none
-- below; BENCH_PIPE_HUGE_MB=0 skips it.
C.huge_mb = math.floor(tonumber(os.getenv("BENCH_PIPE_HUGE_MB") or "") or (C.size_mb >= 1024 and 4096 or 0))
C.huge = C.huge_mb * MiB
C.size = C.size_mb * MiB
C.small = C.small_mb * MiB
C.chunk = math.floor(C.chunk_mb * MiB)
C.nparts = (C.size + C.chunk - 1) // C.chunk
C.full = C.size_mb >= 1024 and C.runs >= 3 and C.nfiles >= 1000
local NODE_STATUS = os.getenv("BENCH_NODE_STATUS") or "ok"
local NODE_OK = NODE_STATUS == "ok"
local WORK_NOTE = os.getenv("BENCH_WORK_NOTE") or W

local BUCKET, REGION = "examplebucket-1250000000", "ap-guangzhou"
local HOST = BUCKET .. ".cos." .. REGION .. ".myqcloud.com"
local COSD = ROOT .. "/build/bin/cosd"
local COS_SIGN = ROOT .. "/build/bin/cos-sign"
local TIME_FMT = "%e %U %S %M"

-- helpers ------------------------------------------------------------------------------------------
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok == true, code
end
local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok == true, code
end
local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
local function trim(s) return (tostring(s or ""):gsub("^%s+", ""):gsub("%s+$", "")) end
local function sleep(s) os.execute("sleep " .. s) end
local function now() return tonumber(trim(capture("date +%s.%N"))) end
local function log(fmt, ...) io.stdout:write(fmt:format(...), "\n"); io.stdout:flush() end

local function median(t)
  if #t == 0 then return nil end
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- GNU time -o file: "[Command exited with non-zero status N\n]E U S M"
local function read_time(path)
  local s = readfile(path) or ""
  local last
  for line in s:gmatch("[^\n]+") do
    if line:match("^[%d.]+ [%d.]+ [%d.]+ %d+$") then last = line end
  end
  if not last then return nil end
  local e, u, sy, m = last:match("^([%d.]+) ([%d.]+) ([%d.]+) (%d+)$")
  return { elapsed = tonumber(e), cpu = tonumber(u) + tonumber(sy), user = tonumber(u), sys = tonumber(sy),
           rss_kb = tonumber(m) }
end

-- cosd ---------------------------------------------------------------------------------------------
local cosd_seq = 0
local function cosd_start()
  cosd_seq = cosd_seq + 1
  local d = ("%s/cosd-%d"):format(W, cosd_seq)
  assert(sh("rm -rf " .. q(d) .. " && mkdir -p " .. q(d)))
  -- GNU time around cosd gives the server's CPU seconds; the inner sh records cosd's own pid (exec)
  local inner = ("echo $$ > %s/pid; exec %s --listen 127.0.0.1:0 --port-file %s/port --data %s/data --access-log %s/access.log")
    :format(q(d), q(COSD), q(d), q(d), q(d))
  assert(sh(("/usr/bin/time -f %s -o %s/time sh -c %s > %s/out 2>&1 < /dev/null &")
    :format(q(TIME_FMT), q(d), q(inner), q(d))))
  local port
  for _ = 1, 200 do
    port = tonumber(trim(readfile(d .. "/port")))
    if port and port > 0 then break end
    sleep(0.05)
  end
  if not port then error("cosd did not start: " .. (readfile(d .. "/out") or "")) end
  return { dir = d, port = port, pid = trim(readfile(d .. "/pid")) }
end

-- METHOD TARGET STATUS BYTES_IN BYTES_OUT REQUEST_ID
local function parse_access_log(path)
  local r = { requests = 0, errors = 0, put_ok = 0, put_bytes = 0, part_ok = 0, part_max = 0, posts = 0 }
  for line in (readfile(path) or ""):gmatch("[^\n]+") do
    local m, target, st, bin = line:match("^(%S+) (%S+) (%d+) (%d+) ")
    if m then
      st, bin = tonumber(st), tonumber(bin)
      r.requests = r.requests + 1
      if st < 200 or st > 299 then r.errors = r.errors + 1 end
      if m == "PUT" and st == 200 then
        r.put_ok = r.put_ok + 1
        r.put_bytes = r.put_bytes + bin
        if target:find("[?&][Pp]art[Nn]umber=") then
          r.part_ok = r.part_ok + 1
          if bin > r.part_max then r.part_max = bin end
        end
      end
      if m == "POST" then r.posts = r.posts + 1 end
    end
  end
  return r
end

-- cosd's own CPU seconds so far (user+sys of all its threads), from /proc/PID/stat; nil if unreadable
local CLK_TCK = tonumber(trim(capture("getconf CLK_TCK 2>/dev/null"))) or 100
local function cosd_cpu(s)
  local st = readfile("/proc/" .. tostring(s.pid) .. "/stat")
  local rest = st and st:match("%) (.*)$")
  if not rest then return nil end
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  -- after "pid (comm) ": state is field 3, utime 14, stime 15 => rest[12], rest[13]
  local u, sy = tonumber(f[12]), tonumber(f[13])
  return u and sy and (u + sy) / CLK_TCK or nil
end

local function cosd_stop(s)
  if s.pid and s.pid ~= "" then sh("kill -TERM " .. s.pid .. " 2>/dev/null") end
  local t
  for _ = 1, 200 do
    t = read_time(s.dir .. "/time")
    if t then break end
    sleep(0.05)
  end
  local acc = parse_access_log(s.dir .. "/access.log")
  sh("rm -rf " .. q(s.dir))
  return t, acc
end

-- inputs -------------------------------------------------------------------------------------------
local BIG = W .. "/big.bin"
local SMALL = W .. "/small.bin"
local FILES_DIR = W .. "/files"
local PARTS_DIR = W .. "/parts"

local function prepare_inputs()
  local t0 = now()
  -- random bytes, so nothing on the path can compress or deduplicate them
  assert(sh(("head -c %d /dev/urandom > %s"):format(C.size, q(BIG))), "cannot write " .. BIG)
  assert(sh(("head -c %d %s > %s"):format(C.small, q(BIG), q(SMALL))))
  assert(sh(("mkdir -p %s && cd %s && head -c %d /dev/urandom | split -b %d -d -a 5 - f")
    :format(q(FILES_DIR), q(FILES_DIR), C.nfiles * C.file_kb * 1024, C.file_kb * 1024)))
  -- the curl ceiling's parts, materialised once (outside any timing): p00000, p00001, ...
  assert(sh(("mkdir -p %s && split -b %d -d -a 5 %s %s/p"):format(q(PARTS_DIR), C.chunk, q(BIG), q(PARTS_DIR))))
  log("inputs ready in %.1f s: %d MiB file, %d MiB file, %d x %d KiB files, %d parts of %g MiB (on %s)",
    now() - t0, C.size_mb, C.small_mb, C.nfiles, C.file_kb, C.nparts, C.chunk_mb, WORK_NOTE)
end

-- clients ------------------------------------------------------------------------------------------
local function parse_bench_line(out)
  local line = out:match("BENCH ([^\n]*)")
  if not line then return nil, "no result line" end
  local r = {}
  for k, v in line:gmatch('(%w+)=("[^"]*")') do r[k] = v:sub(2, -2) end
  for k, v in line:gmatch('(%w+)=([^%s"]+)') do if r[k] == nil then r[k] = v end end
  return r
end

-- Runs a client command under GNU time; returns {wall, bytes, files, cpu, rss_kb} or nil, err.
local function run_client(cmd)
  local tf, ef = W .. "/client.time", W .. "/client.err"
  os.remove(tf)
  local out = capture(("/usr/bin/time -f %s -o %s %s 2> %s"):format(q(TIME_FMT), q(tf), cmd, q(ef)))
  local r, perr = parse_bench_line(out)
  local t = read_time(tf)
  if not r then
    local err = trim((readfile(ef) or "") .. " " .. (readfile(tf) or ""):gsub("[%d.]+ [%d.]+ [%d.]+ %d+%s*$", "")):sub(-400)
    return nil, perr .. (err ~= "" and (": " .. err) or "")
  end
  if r.ok ~= "1" then return nil, r.err or "failed" end
  if not t then return nil, "no GNU time output" end
  return { wall = tonumber(r.wall), bytes = tonumber(r.bytes), files = tonumber(r.files), cpu = t.cpu,
           user = t.user, sys = t.sys, rss_kb = t.rss_kb, call_cpu = tonumber(r.cpu) or t.cpu }
end

local function lua_cmd(args) return "lua5.4 " .. q(ROOT .. "/bench/lua_client.lua") .. " " .. args end
local function node_cmd(args) return "node " .. q(ROOT .. "/bench/node_client.js") .. " " .. args end

local function slice_args(mode, port, file, key, defaults)
  local a = ("mode=%s port=%d file=%s key=%s"):format(mode, port, q(file), q(key))
  if defaults then return a .. " defaults=1" end
  return a .. (" chunk=%d par=%d"):format(C.chunk, C.par)
end
local function files_args(port, defaults)
  local a = ("mode=files port=%d dir=%s n=%d"):format(port, q(FILES_DIR), C.nfiles)
  if defaults then return a .. " defaults=1" end
  return a .. (" fpar=%d"):format(C.fpar)
end

-- curl ceiling: initiate (signed, untimed), PUT every pre-split part through a pre-signed URL with
-- `curl --parallel --parallel-max PAR` (one process, timed), then Complete (timed too: its
-- latency is reported on its own, and the ceiling's throughput includes it, as a client's does).
local function cos_sign(method, path, params)
  local cmd = ("%s --method %s --path %s --header %s"):format(q(COS_SIGN), method, q(path), q("host:" .. HOST))
  for _, p in ipairs(params or {}) do cmd = cmd .. " --param " .. q(p) end
  local out, ok = capture(cmd)
  if not ok then error("cos-sign failed: " .. cmd) end
  return trim(out)
end

local function run_curl_ceiling(port, server)
  local key = "/ceiling.bin"
  local connect = ("--connect-to %s:80:127.0.0.1:%d"):format(HOST, port)
  local auth = cos_sign("post", key, { "uploads=" })
  local out = capture(("curl -sS -X POST %s -H %s %s"):format(q("http://" .. HOST .. key .. "?uploads"),
    q("Authorization: " .. auth), connect))
  local upload_id = out:match("<UploadId>([^<]+)</UploadId>")
  if not upload_id then return nil, "initiate failed: " .. out:sub(1, 300) end
  -- one config: shared options, then upload-file/url pairs (curl pairs each -T with the next URL)
  local cfg = {
    "silent", "show-error",
    'header = "Expect:"',                       -- no 100-continue round trip: this is the ceiling
    ('connect-to = "%s:80:127.0.0.1:%d"'):format(HOST, port),
    'write-out = "%{http_code} %header{etag} %{url}\\n"',
  }
  for n = 1, C.nparts do
    local a = cos_sign("put", key, { "partNumber=" .. n, "uploadId=" .. upload_id })
    cfg[#cfg + 1] = ('upload-file = "%s/p%05d"'):format(PARTS_DIR, n - 1)
    cfg[#cfg + 1] = ('url = "http://%s%s?partNumber=%d&uploadId=%s&%s"'):format(HOST, key, n, upload_id, a)
  end
  writefile(W .. "/curl.cfg", table.concat(cfg, "\n") .. "\n")
  local tf = W .. "/client.time"
  os.remove(tf)
  local s0 = server and cosd_cpu(server)
  local t0 = now()
  local res = capture(("/usr/bin/time -f %s -o %s curl --parallel --parallel-immediate --parallel-max %d -K %s 2> %s")
    :format(q(TIME_FMT), q(tf), C.par, q(W .. "/curl.cfg"), q(W .. "/client.err")))
  local wall = now() - t0
  local s1 = server and cosd_cpu(server)
  local t = read_time(tf)
  local etags, bad = {}, 0
  for code, etag, pn in res:gmatch('(%d%d%d) (%S*) http://[^\n]-partNumber=(%d+)') do
    if code == "200" and etag ~= "" then etags[tonumber(pn)] = etag else bad = bad + 1 end
  end
  local xml = { "<CompleteMultipartUpload>" }
  for n = 1, C.nparts do
    if not etags[n] then
      return nil, ("part %d failed (%d bad): %s"):format(n, bad, trim(readfile(W .. "/client.err") or ""):sub(1, 300))
    end
    xml[#xml + 1] = ("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>"):format(n, etags[n])
  end
  xml[#xml + 1] = "</CompleteMultipartUpload>"
  writefile(W .. "/complete.xml", table.concat(xml))
  auth = cos_sign("post", key, { "uploadId=" .. upload_id })
  local c0 = now()
  out = capture(("curl -sS -X POST %s -H %s -H 'Content-Type: application/xml' --data-binary @%s %s"):format(
    q(("http://%s%s?uploadId=%s"):format(HOST, key, upload_id)), q("Authorization: " .. auth), q(W .. "/complete.xml"),
    connect))
  local complete_s = now() - c0
  if not out:find("<ETag>") then return nil, "complete failed: " .. out:sub(1, 300) end
  if not t then return nil, "no GNU time output" end
  return { wall = wall + complete_s, complete_ms = complete_s * 1000, bytes = C.size, files = 1, cpu = t.cpu, user = t.user, sys = t.sys, rss_kb = t.rss_kb,
           call_cpu = t.cpu, server_cpu = s0 and s1 and (s1 - s0) or nil }
end

-- measurements -------------------------------------------------------------------------------------
local M = {}
local function add(m)
  m.results, m.server_cpu, m.acc = {}, {}, nil
  M[#M + 1] = m
  M[m.id] = m
end
local settings_eq = ("ChunkSize %g MiB, ChunkParallelLimit/AsyncLimit %d"):format(C.chunk_mb, C.par)

add { id = "lua_upload", label = "lua-cos uploadFile", settings = "lua-cos defaults", bytes = C.size,
      run = function(port) return run_client(lua_cmd(slice_args("upload", port, BIG, "upload.bin", true))) end }
add { id = "lua_slice", label = "lua-cos sliceUploadFile", settings = settings_eq, bytes = C.size,
      run = function(port) return run_client(lua_cmd(slice_args("slice", port, BIG, "slice.bin"))) end }
add { id = "node_slice", label = "Node SDK sliceUploadFile", settings = settings_eq, bytes = C.size, node = true,
      run = function(port) return run_client(node_cmd(slice_args("slice", port, BIG, "slice.bin"))) end }
if C.node_defaults then
  add { id = "node_slice_def", label = "Node SDK sliceUploadFile", settings = "Node SDK defaults (1 MiB parts, 3 parallel)",
        bytes = C.size, node = true,
        run = function(port) return run_client(node_cmd(slice_args("slice", port, BIG, "slice.bin", true))) end }
end
add { id = "curl", label = "curl ceiling (pre-signed part PUTs + Complete)",
      settings = ("%d parts of %g MiB, curl --parallel-max %d, no Expect"):format(C.nparts, C.chunk_mb, C.par),
      bytes = C.size, run = run_curl_ceiling }
add { id = "lua_slice_small", label = "lua-cos sliceUploadFile", settings = settings_eq, bytes = C.small,
      run = function(port) return run_client(lua_cmd(slice_args("slice", port, SMALL, "small.bin"))) end }
-- Streams: the same bytes from a pipe (`cat file`) through sliceUploadFile{Body = io.popen(...)}
local function pipe_args(port, file, key, cmd, bytes)
  local a = ("mode=pipe port=%d key=%s chunk=%d par=%d"):format(port, q(key), C.chunk, C.par)
  if cmd then return a .. (" cmd=%s bytes=%d"):format(q(cmd), bytes) end
  return a .. " file=" .. q(file)
end
add { id = "lua_pipe", label = "lua-cos sliceUploadFile from a pipe", settings = settings_eq, bytes = C.size,
      run = function(port) return run_client(lua_cmd(pipe_args(port, BIG, "pipe.bin"))) end }
add { id = "lua_pipe_small", label = "lua-cos sliceUploadFile from a pipe", settings = settings_eq, bytes = C.small,
      run = function(port) return run_client(lua_cmd(pipe_args(port, SMALL, "pipe_small.bin"))) end }
if C.huge > 0 then
  add { id = "lua_pipe_huge", label = "lua-cos sliceUploadFile from a pipe (zeros)", settings = settings_eq,
        bytes = C.huge, run = function(port)
          return run_client(lua_cmd(pipe_args(port, nil, "pipe_huge.bin", ("head -c %d /dev/zero"):format(C.huge), C.huge)))
        end }
end
add { id = "lua_files", label = "lua-cos uploadFiles", settings = ("FileParallelLimit %d"):format(C.fpar),
      nfiles = C.nfiles, bytes = C.nfiles * C.file_kb * 1024,
      run = function(port) return run_client(lua_cmd(files_args(port))) end }
add { id = "node_files", label = "Node SDK uploadFiles", settings = ("FileParallelLimit %d"):format(C.fpar),
      nfiles = C.nfiles, bytes = C.nfiles * C.file_kb * 1024, node = true,
      run = function(port) return run_client(node_cmd(files_args(port))) end }
if C.node_defaults then
  add { id = "node_files_def", label = "Node SDK uploadFiles", settings = "Node SDK defaults (FileParallelLimit 3)",
        nfiles = C.nfiles, bytes = C.nfiles * C.file_kb * 1024, node = true,
        run = function(port) return run_client(node_cmd(files_args(port, true))) end }
end

-- BENCH_MEASURE=id,id,...: run only these measurements (e.g. lua_files,node_files while working on
-- one figure); the poll step is skipped and bench/results.md is left alone.
local ONLY = os.getenv("BENCH_MEASURE")
if ONLY and ONLY ~= "" then
  local want = {}
  for id in ONLY:gmatch("[^,%s]+") do
    if not M[id] then error("BENCH_MEASURE: no measurement '" .. id .. "'") end
    want[id] = true
  end
  for i = #M, 1, -1 do
    if not want[M[i].id] then M[M[i].id] = nil; table.remove(M, i) end
  end
else
  ONLY = nil
end

local function size_label(m)
  if m.nfiles then return ("%d x %d KiB"):format(m.nfiles, C.file_kb) end
  return ("%d MiB"):format(m.bytes // MiB)
end

-- Every byte must have reached cosd: the sum of the 200 PUT bodies covers the file(s).
local function check_server(m, acc)
  if acc.put_bytes < m.bytes then
    return ("cosd received %d of %d bytes in successful PUTs"):format(acc.put_bytes, m.bytes)
  end
  if m.nfiles and acc.put_ok < m.nfiles then
    return ("cosd stored %d of %d files"):format(acc.put_ok, m.nfiles)
  end
end

local function run_one(m, round)
  local s = cosd_start()
  local c0 = cosd_cpu(s)
  local ok, r, err = pcall(m.run, s.port, s)
  local c1 = cosd_cpu(s)
  if not ok then r, err = nil, "harness error: " .. tostring(r) end
  local st, acc = cosd_stop(s)
  -- the server's CPU during the measured window (curl: the part PUTs only, initiate/complete are
  -- outside); GNU time's whole-life figure when /proc could not be read
  local scpu = r and (r.server_cpu or (c0 and c1 and (c1 - c0))) or (st and st.cpu)
  if r then
    local bad = check_server(m, acc)
    if bad then r, err = nil, bad end
  end
  if not r then
    err = trim(err)
    m.failures = (m.failures or 0) + 1
    m.last_err = err
    -- an operation the build does not have yet: no point trying it again; anything else (a crash,
    -- a library rebuilt under us by a concurrent `make`) gets its chance in the next rounds
    if err:find("not implemented") or err:find("unsupported operation") or err:find("cannot load") then
      m.unavailable = err
    end
    log("  [%d/%d] %-34s %-12s FAILED%s: %s", round, C.runs, m.label, size_label(m),
      m.unavailable and " (not available)" or "", err)
    return
  end
  r.acc = acc
  m.results[#m.results + 1] = r
  if scpu then m.server_cpu[#m.server_cpu + 1] = scpu end
  m.acc = acc
  local rate = m.nfiles and ("%8.1f files/s"):format(m.nfiles / r.wall) or ("%8.1f MB/s"):format(m.bytes / r.wall / 1e6)
  log("  [%d/%d] %-34s %-12s %s  wall %.3f s  cpu %.2f s  rss %.1f MiB  cosd cpu %s  reqs %d (parts %d, max %.2f MiB)",
    round, C.runs, m.label, size_label(m), rate, r.wall, r.cpu, r.rss_kb / 1024,
    scpu and ("%.2f s"):format(scpu) or "?", acc.requests, acc.part_ok, acc.part_max / MiB)
end

-- machine facts ------------------------------------------------------------------------------------
local function facts()
  local f = {}
  f.date = trim(capture("date -u '+%Y-%m-%d %H:%M:%S UTC'"))
  f.nproc = trim(capture("nproc"))
  f.cpu = trim((readfile("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "unknown")
  local mem = (readfile("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)")
  f.mem = mem and ("%.1f GiB"):format(tonumber(mem) / MiB) or "?"
  f.kernel = trim(capture("uname -sr"))
  f.lua = trim(capture("lua5.4 -v 2>&1"))
  f.node = trim(capture("node --version 2>/dev/null"))
  local pkg = readfile(ROOT .. "/bench/node/node_modules/cos-nodejs-sdk-v5/package.json") or ""
  f.sdk = pkg:match('"version"%s*:%s*"([^"]+)"') or "not installed"
  f.curl = trim(capture("curl --version | head -n 1"))
  local ok, COS = pcall(require, "cos")
  f.luacos = ok and tostring(COS.VERSION) or "cannot load: " .. tostring(COS)
  local rev = trim(capture("git -C " .. q(ROOT) .. " rev-parse --short HEAD 2>/dev/null"))
  local dirty = trim(capture("git -C " .. q(ROOT) .. " status --porcelain -- csrc lua 2>/dev/null")) ~= ""
  f.rev = rev ~= "" and (rev .. (dirty and " + uncommitted changes in csrc/ or lua/" or "")) or "?"
  return f
end
local function loadavg() return trim((readfile("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)") or "?") end

-- main ---------------------------------------------------------------------------------------------
local F = facts()
F.load_start = loadavg()
log("lua-cos benchmark  %s  (%s)", F.date, C.full and "full run" or "REDUCED run: sizes below the spec'd ones")
log("machine: %s cores, %s, %s RAM, %s; load average at start %s", F.nproc, F.cpu, F.mem, F.kernel, F.load_start)
log("settings: %d MiB file, %d runs, %d files of %d KiB; equal settings: %s; files: FileParallelLimit %d",
  C.size_mb, C.runs, C.nfiles, C.file_kb, settings_eq, C.fpar)
if not NODE_OK then log("Node SDK: %s -- reporting lua-cos and curl only", NODE_STATUS) end
prepare_inputs()

local t_start = now()
for round = 1, C.runs do
  for _, m in ipairs(M) do
    if m.node and not NODE_OK then
      m.unavailable = m.unavailable or ("Node SDK unavailable: " .. NODE_STATUS)
    elseif not m.unavailable then
      run_one(m, round)
    end
  end
end
-- the poll step (bench/poll_step.c via bench/poll_step.sh): cos_run() and cos_poll(c, 0) + 1 ms
local POLL = {}
if not ONLY then
  local bin = ROOT .. "/" .. (os.getenv("BUILD") or "build") .. "/bin/poll_step"
  if io.open(bin) then
    log("poll step: 256 MiB, 8 MiB parts, 4 in flight: cos_run() and cos_poll(c, 0) + 1 ms sleep")
    local out = capture(("cd %s && POLL_SLEEPS='run 1000' POLL_SIZE_MB=256 sh bench/poll_step.sh 2>&1"):format(q(ROOT)))
    log("%s", out)
    POLL.run = tonumber(out:match("run in [%d.]+ s, ([%d.]+) MB/s"))
    POLL.poll = tonumber(out:match("1000 us between steps\npoll_step: %d+ steps in [%d.]+ s, ([%d.]+) MB/s"))
    POLL.wall_p99, POLL.wall_max = out:match("wall median [%d.]+ ms, p99 ([%d.]+) ms, p99%.9 [%d.]+ ms, max ([%d.]+) ms")
    POLL.cpu_p99, POLL.cpu_max = out:match("cpu  median [%d.]+ ms, p99 ([%d.]+) ms, p99%.9 [%d.]+ ms, max ([%d.]+) ms")
    for _, k in ipairs({ "wall_p99", "wall_max", "cpu_p99", "cpu_max" }) do POLL[k] = tonumber(POLL[k]) end
  else
    POLL.missing = bin .. " is not built (make bench builds it)"
  end
end

F.load_end = loadavg()
local bench_secs = now() - t_start
sh("rm -rf " .. q(BIG) .. " " .. q(SMALL) .. " " .. q(PARTS_DIR) .. " " .. q(FILES_DIR))

-- summaries ----------------------------------------------------------------------------------------
local S = {}
for _, m in ipairs(M) do
  local s = { m = m, n = #m.results }
  if s.n > 0 then
    local rates, cpus, rss = {}, {}, {}
    for i, r in ipairs(m.results) do
      rates[i] = m.nfiles and (m.nfiles / r.wall) or (m.bytes / r.wall / 1e6)
      cpus[i] = r.cpu
      rss[i] = r.rss_kb / 1024
    end
    s.rate, s.cpu, s.rss, s.scpu = median(rates), median(cpus), median(rss), median(m.server_cpu)
    -- client efficiency: bytes (or files) per client CPU-second; and how many cores client + cosd
    -- kept busy over the upload (near nproc = CPU-bound machine, the server's share included)
    -- (from the CPU of the call itself, so that node's ~0.2 s start-up does not count)
    local eff, busy, ccpu = {}, {}, {}
    for i, r in ipairs(m.results) do
      ccpu[i] = r.call_cpu
      eff[i] = (m.nfiles or (m.bytes / 1e6)) / math.max(r.call_cpu, 0.001)
      if m.server_cpu[i] then busy[i] = (r.call_cpu + m.server_cpu[i]) / r.wall end
    end
    s.eff, s.busy, s.ccpu = median(eff), median(busy), median(ccpu)
    s.rmin, s.rmax = math.min(table.unpack(rates)), math.max(table.unpack(rates))
    local cms = {}
    for i, r in ipairs(m.results) do cms[i] = r.complete_ms end
    if #cms > 0 then s.complete_ms, s.complete_max = median(cms), math.max(table.unpack(cms)) end
    s.rss_max = math.max(table.unpack(rss))
  end
  S[m.id] = s
end

local function ratio(a, b)
  if not (S[a] and S[b] and S[a].rate and S[b].rate) then return nil end
  return S[a].rate / S[b].rate
end
local function fmt_ratio(x) return x and ("%.2fx"):format(x) or "n/a" end

local ratios = {
  { "lua-cos / Node SDK, sliceUploadFile, equal settings (MB/s)", ratio("lua_slice", "node_slice") },
  { "lua-cos / curl ceiling, sliceUploadFile (MB/s)", ratio("lua_slice", "curl") },
  { "lua-cos uploadFile defaults / curl ceiling (MB/s)", ratio("lua_upload", "curl") },
  { "Node SDK / curl ceiling, equal settings (MB/s)", ratio("node_slice", "curl") },
  { "lua-cos sliceUploadFile / Node SDK with its defaults (MB/s)", ratio("lua_slice", "node_slice_def") },
  { "lua-cos sliceUploadFile from a pipe / from the file, same bytes (MB/s)", ratio("lua_pipe", "lua_slice") },
  { "lua-cos / Node SDK, uploadFiles, equal settings (files/s)", ratio("lua_files", "node_files") },
  { "lua-cos / Node SDK with its defaults, uploadFiles (files/s)", ratio("lua_files", "node_files_def") },
}
do
  local a, b = S.lua_slice, S.node_slice
  if a and b and a.cpu and b.cpu and a.cpu > 0 then
    ratios[#ratios + 1] = { "Node SDK / lua-cos client CPU seconds, sliceUploadFile equal settings", b.cpu / a.cpu }
  end
  a, b = S.lua_slice, S.curl
  if a and b and a.cpu and b.cpu and b.cpu > 0 then
    ratios[#ratios + 1] = { "lua-cos / curl client CPU seconds for the same bytes", a.cpu / b.cpu }
    ratios[#ratios + 1] = { ("client CPU seconds per GiB: lua-cos %.2f, curl %.2f (ratio)"):format(
      a.cpu / (C.size / 2^30), b.cpu / (C.size / 2^30)), a.cpu / b.cpu }
  end
  if POLL.run and POLL.poll then
    ratios[#ratios + 1] = { "cos_poll(c, 0) + 1 ms sleep / cos_run() throughput (256 MiB, 8 MiB parts, 4 in flight)",
      POLL.poll / POLL.run }
  end
  a, b = S.lua_files, S.node_files
  if a and b and a.cpu and b.cpu and a.cpu > 0 then
    ratios[#ratios + 1] = { "Node SDK / lua-cos client CPU seconds, uploadFiles equal settings", b.cpu / a.cpu }
  end
  if a and b and a.ccpu and b.ccpu and a.ccpu > 0 then
    ratios[#ratios + 1] = { "Node SDK / lua-cos CPU in the call alone, uploadFiles equal settings", b.ccpu / a.ccpu }
  end
  -- On a CPU-bound box the server's CPU is shared by every client: wall throughput ratios can not
  -- exceed (other client CPU + cosd CPU) / (lua-cos CPU + cosd CPU). Printed as a bound to read the
  -- wall ratios against.
  local function bound(x, y)
    local A, B = S[x], S[y]
    if not (A and B and A.cpu and B.cpu and A.scpu and B.scpu) then return nil end
    return (B.ccpu + B.scpu) / (A.ccpu + A.scpu)
  end
  local bn, bc = bound("lua_slice", "node_slice"), bound("lua_slice", "curl")
  if bn then ratios[#ratios + 1] = { "CPU-bound limit of lua-cos / Node SDK: (Node + its cosd CPU) / (lua-cos + its cosd CPU)", bn } end
  if bc then ratios[#ratios + 1] = { "CPU-bound limit of lua-cos / curl: (curl + its cosd CPU) / (lua-cos + its cosd CPU)", bc } end
end

-- targets
local targets = {}
local function target(name, measured, pass, why)
  targets[#targets + 1] = { name = name, measured = measured, verdict = pass == nil and "N/A" or (pass and "PASS" or "MISS"),
                            why = why }
end
do
  local r = ratio("lua_slice", "node_slice")
  target(">= 2.5x the Node SDK's throughput at equal settings", fmt_ratio(r), r and r >= 2.5,
    not r and "a side is not available" or nil)
  r = ratio("lua_slice", "curl")
  target(">= 0.9x the curl ceiling including the Complete, equal parallelism", fmt_ratio(r), r and r >= 0.9,
    not r and "a side is not available" or nil)
  local a, b = S.lua_slice, S.curl
  r = a and b and a.cpu and b.cpu and b.cpu > 0 and a.cpu / b.cpu or nil
  target("client CPU <= 1.5x curl's for the same bytes, integrity checked", fmt_ratio(r), r and r <= 1.5,
    not r and "a side is not available" or nil)
  local cm = S.curl and S.curl.complete_ms
  target(("Complete of %d MiB in %d parts <= 50 ms"):format(C.size_mb, C.nparts),
    cm and ("%.1f ms median, %.1f ms max"):format(cm, S.curl.complete_max) or "n/a", cm and cm <= 50,
    not cm and "no curl ceiling run" or "client-side wall time of one curl process, its start-up included")
  if POLL.wall_max then
    target("one cos_poll(0) step max <= 4 ms, p99 <= 2 ms (wall) during a 256 MiB upload, 4 x 8 MiB in flight",
      ("wall p99 %.2f ms, max %.2f ms; CPU p99 %.2f ms, max %.2f ms"):format(POLL.wall_p99, POLL.wall_max,
        POLL.cpu_p99 or -1, POLL.cpu_max or -1), POLL.wall_max <= 4 and POLL.wall_p99 <= 2,
      "wall time holds whatever the scheduler gives other processes on a shared machine; the CPU time is the library's own work")
  else
    target("one cos_poll(0) step max <= 4 ms, p99 <= 2 ms", "n/a", nil, POLL.missing or "poll_step gave no figures")
  end
  r = POLL.run and POLL.poll and POLL.poll / POLL.run or nil
  target("poll(0) + 1 ms sleep >= 0.9x cos_run() throughput", fmt_ratio(r), r and r >= 0.9,
    not r and (POLL.missing or "poll_step gave no figures") or nil)
  local big, small = S.lua_slice, S.lua_slice_small
  if big and big.rss and small and small.rss then
    local grow = big.rss - small.rss
    local tol = math.max(2, small.rss * 0.10)
    local ok = big.rss <= 32 and grow <= tol
    -- below ChunkSize x parallel the small file has fewer parts in flight: not like for like
    local why = C.small < C.chunk * C.par and ("%d MiB is below ChunkSize x parallel = %g MiB, so fewer parts are in"
      .. " flight there: the growth figure is not like for like"):format(C.small_mb, C.chunk_mb * C.par) or nil
    target(("client peak RSS <= 32 MiB for %d MiB and not growing with size"):format(C.size_mb),
      ("%.1f MiB at %d MiB, %.1f MiB at %d MiB (growth %+.1f MiB, tolerance max(2 MiB, 10%%) = %.1f)")
        :format(big.rss, C.size_mb, small.rss, C.small_mb, grow, tol), ok, why)
  else
    target(("client peak RSS <= 32 MiB for %d MiB and not growing with size"):format(C.size_mb), "n/a", nil,
      "lua-cos sliceUploadFile not available")
  end
  -- streams: peak RSS within 32 MiB + ChunkSize x parts in flight at every size. What a stream
  -- upload holds is bounded by construction: at most `parallel` part buffers (the one being
  -- filled and the parts not yet confirmed), reused, never more. How many of them a run
  -- actually fills at once depends on how fast the server confirms parts (timing, not length),
  -- so "flat" is checked against that length-independent bound: the file upload's own peak (the
  -- process without any part buffer) + parallel x ChunkSize, + 2 MiB for the allocator.
  local pipe_cap = 32 + C.chunk_mb * C.par
  local base = S.lua_slice and S.lua_slice.rss
  local bound = base and base + C.chunk_mb * C.par + 2
  local sizes = {}
  for _, id in ipairs { "lua_pipe_small", "lua_pipe", "lua_pipe_huge" } do
    if S[id] and S[id].rss then sizes[#sizes + 1] = { mb = M[id].bytes // MiB, rss = S[id].rss_max or S[id].rss } end
  end
  if #sizes >= 2 and bound then
    local worst, parts = 0, {}
    for _, z in ipairs(sizes) do
      worst = math.max(worst, z.rss)
      parts[#parts + 1] = ("%.1f MiB at %d MiB"):format(z.rss, z.mb)
    end
    target(("stream from a pipe: client peak RSS <= 32 MiB + ChunkSize x parts in flight (%d MiB) at every size,"
      .. " and within the length-independent bound (file upload's peak + parallel x ChunkSize + 2 = %.1f MiB)")
      :format(pipe_cap, bound), table.concat(parts, ", ") .. " (highest run of each size)",
      worst <= pipe_cap and worst <= bound)
  end
  r = ratio("lua_pipe", "lua_slice")
  target("stream from a pipe: MB/s as a ratio to the same bytes from the file (reported, no target)", fmt_ratio(r), nil,
    not r and "a side is not available" or "informational")

  r = ratio("lua_files", "node_files")
  target(">= 8x the Node SDK's files/s for small files", fmt_ratio(r), r and r >= 8,
    not r and "a side is not available" or nil)
end

-- report -------------------------------------------------------------------------------------------
local out = {}
local function p(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

p("# lua-cos benchmark results")
p("")
p("Written by `sh bench/run.sh` (`make bench`); see bench/README.md for what is measured and how.%s",
  C.full and "" or " **Reduced run** (sizes/runs below the spec'd 1 GiB x 3 runs x 1000 files): targets are indicative only.")
p("")
p("- date: %s", F.date)
p("- machine: nproc %s, CPU %s, %s RAM, %s", F.nproc, F.cpu, F.mem, F.kernel)
p("- load average (1/5/15 min) at start %s, at end %s; the machine is shared, so absolute figures are noisy", F.load_start, F.load_end)
p("- lua-cos %s (git %s), %s; Node %s with cos-nodejs-sdk-v5 %s; %s", F.luacos, F.rev, F.lua, F.node, F.sdk, F.curl)
p("- Node SDK: %s", NODE_OK and "installed in bench/node/node_modules" or ("**not available: " .. NODE_STATUS .. "**"))
p("- server: one fresh `cosd --listen 127.0.0.1:0` (same flags for every client, default credentials, no faults)")
p("  per measurement, data dir on %s, deleted after each measurement", WORK_NOTE)
p("- big file %d MiB (random bytes); RSS growth check at %d MiB; %d files of %d KiB; %d runs, medians reported;",
  C.size_mb, C.small_mb, C.nfiles, C.file_kb, C.runs)
p("  rounds interleave the clients; %.0f s of measuring", bench_secs)
p("- equal settings: %s (lua-cos: constructor ChunkSize/ChunkParallelLimit plus per-call ChunkSize/AsyncLimit;", settings_eq)
p("  Node SDK: the same). uploadFiles: FileParallelLimit %d for both.", C.fpar)
p("- MB/s = 10^6 bytes per second of wall time of the upload call alone (client start-up excluded; curl: the")
p("  timed curl process doing the part PUTs plus the Complete). CPU = client user+sys seconds and peak RSS = max RSS, of the")
p("  whole client process, from GNU time. cosd CPU = the server's user+sys (/proc/PID/stat) while the client ran")
p("  (curl: during the timed part PUTs only; a client's own complete is inside its window).")
p("  `CPU in call` = the client's own CPU reading (Lua os.clock, Node process.cpuUsage) over the upload call alone")
p("  (start-up excluded; curl: whole process). `per client CPU-s` = MB (or files) per CPU-second in the call, the")
p("  client's efficiency whatever the server; `cores busy` = (CPU in call + cosd CPU) / wall: near nproc means the")
p("  machine's CPU, not the network, was the limit.")
p("")
p("| measurement | settings | size | runs | median | range | client CPU s | CPU in call s | per client CPU-s | peak RSS MiB | cosd CPU s | cores busy | requests (parts, max part) |")
p("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for _, m in ipairs(M) do
  local s = S[m.id]
  if s.rate then
    local unit = m.nfiles and "files/s" or "MB/s"
    local acc = m.acc
    p("| %s | %s | %s | %d%s | %.1f %s | %.1f-%.1f | %.2f | %.2f | %.0f %s | %.1f | %s | %s | %d (%d, %.2f MiB) |", m.label, m.settings,
      size_label(m), s.n, m.failures and (" (+%d failed: %s)"):format(m.failures, m.last_err:gsub("|", "/"):sub(1, 120)) or "",
      s.rate, unit, s.rmin, s.rmax, s.cpu, s.ccpu, s.eff, m.nfiles and "files" or "MB", s.rss,
      s.scpu and ("%.2f"):format(s.scpu) or "?", s.busy and ("%.2f"):format(s.busy) or "?",
      acc.requests, acc.part_ok, acc.part_max / MiB)
  else
    p("| %s | %s | %s | 0 | not available | | | | | | | | %s |", m.label, m.settings, size_label(m),
      ("not available: " .. (m.unavailable or m.last_err or "no result")):gsub("|", "/"):sub(1, 200))
  end
end
p("")
p("## Ratios (medians of this run)")
p("")
for _, r in ipairs(ratios) do p("- %s: %s", r[1], fmt_ratio(r[2])) end
p("")
if S.curl and S.curl.complete_ms then
  p("- Complete Multipart Upload of %d MiB in %d parts (curl ceiling's Complete, client wall time): median %.1f ms, max %.1f ms",
    C.size_mb, C.nparts, S.curl.complete_ms, S.curl.complete_max)
end
if POLL.wall_max then
  p("- one cos_poll(c, 0) step, 256 MiB sliceUploadFile, 8 MiB parts, 4 in flight, 1 ms sleep between steps:")
  p("  wall p99 %.2f ms, max %.2f ms; CPU p99 %.2f ms, max %.2f ms; %.0f MB/s against %.0f MB/s with cos_run()",
    POLL.wall_p99, POLL.wall_max, POLL.cpu_p99 or -1, POLL.cpu_max or -1, POLL.poll or -1, POLL.run or -1)
end
p("")
-- Streams: the pipe uploads side by side with the file upload of the same bytes, and the peak RSS
-- at every stream length (the memory must not grow with the length).
if S.lua_pipe and S.lua_pipe.rate then
  p("## Streams (sliceUploadFile with Body = a pipe, %s)", settings_eq)
  p("")
  p("| source | size | runs | median MB/s | range | peak RSS MiB (median) | peak RSS MiB (max) |")
  p("|---|---|---|---|---|---|---|")
  for _, id in ipairs { "lua_slice", "lua_pipe_small", "lua_pipe", "lua_pipe_huge" } do
    local st = S[id]
    if st and st.rate then
      p("| %s | %d MiB | %d | %.1f | %.1f-%.1f | %.1f | %.1f |", id == "lua_slice" and "the file (sliceUploadFile FilePath)"
        or id == "lua_pipe_huge" and "a pipe from `head -c N /dev/zero`" or "a pipe from `cat file`", M[id].bytes // MiB, st.n, st.rate,
        st.rmin, st.rmax, st.rss, st.rss_max)
    end
  end
  p("")
  local r = ratio("lua_pipe", "lua_slice")
  p("- pipe / file throughput for the same %d MiB: %s", C.size_mb, fmt_ratio(r))
  local base = S.lua_slice and S.lua_slice.rss
  if base then
    p("- bound on a stream's peak RSS whatever its length: the file upload's peak %.1f + %d x %g MiB part buffers + 2 = %.1f MiB"
      .. " (target: <= 32 + %d x %g = %d MiB)", base, C.par, C.chunk_mb, base + C.par * C.chunk_mb + 2, C.par, C.chunk_mb,
      32 + C.par * C.chunk_mb)
  end
  if not S.lua_pipe_huge or not S.lua_pipe_huge.rate then
    p("- no 4 GiB stream in this run (BENCH_PIPE_HUGE_MB=%d)", C.huge_mb)
  end
  p("")
end
p("## Targets (a miss never fails the command)")
p("")
for _, t in ipairs(targets) do
  p("- **%s** %s: %s%s", t.verdict, t.name, t.measured, t.why and (" (" .. t.why .. ")") or "")
end
local report = table.concat(out, "\n") .. "\n"

log("")
io.stdout:write(report)
if ONLY then
  log("\nBENCH_MEASURE=%s: a partial run, bench/results.md left alone", ONLY)
else
  writefile(ROOT .. "/bench/results.md", report)
  log("\nwritten to bench/results.md")
end
