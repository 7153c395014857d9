-- The OpenResty benchmark (bench/run.sh runs it after bench.lua; `make bench-nginx` alone).
-- In nginx with one worker, a synchronous sliceUploadFile of BENCH_NGINX_SIZE_MB (256) MiB,
-- 8 MiB parts, 4 in flight, in one request, while this process pings another location of the same
-- worker every 10 ms over a keep-alive connection: the pings' p50/p99/max latency during the upload,
-- and the upload's throughput as a ratio to the same upload from a plain `luajit` process. One
-- extra run drives the same upload with the engine's blocking C loop (what a worker did before
-- lua-cos yielded to nginx), for contrast. Each measurement gets a fresh cosd with its data on
-- tmpfs. Writes its section of bench/results.md (between the nginx-bench markers).
local ROOT = assert(os.getenv("BENCH_ROOT"), "run through bench/run.sh or make bench-nginx")
local W = assert(os.getenv("BENCH_WORK"), "run through bench/run.sh or make bench-nginx")
package.path = ROOT .. "/spec/?.lua;" .. package.path
local socket = require "socket"
local cosd = require "support.cosd"
local nginx = require "support.nginx"

local MiB = 1024 * 1024
local SIZE_MB = tonumber(os.getenv("BENCH_NGINX_SIZE_MB") or "256")
local RUNS = tonumber(os.getenv("BENCH_NGINX_RUNS") or "3")
local BUILD = ROOT .. "/build-luajit"
local COSD = BUILD .. "/bin/cosd"
local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local q = cosd.sh_quote

local function log(fmt, ...) io.stdout:write(fmt:format(...), "\n"); io.stdout:flush() end
local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function percentile(t, p)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  if #s == 0 then return 0 / 0 end
  return s[math.max(1, math.ceil(p * #s))]
end
local function median(t) return percentile(t, 0.5) end

-- A fresh cosd, data on tmpfs; stops when this process is gone.
local seq = 0
local function cosd_start()
  seq = seq + 1
  local d = ("%s/ngx-cosd-%d"):format(W, seq)
  assert(cosd.exec("rm -rf " .. q(d) .. " && mkdir -p " .. q(d)))
  local p = cosd.popen(("%s --listen 127.0.0.1:0 --port-file %s/port --data %s/data --parent-pid %s >%s/out 2>&1 & echo $!")
    :format(q(COSD), q(d), q(d), readfile("/proc/self/stat"):match("^(%d+)"), q(d)))
  local pid = p:read("*l")
  p:close()
  for _ = 1, 200 do
    local port = tonumber(readfile(d .. "/port") or "")
    if port then return { dir = d, pid = pid, endpoint = "127.0.0.1:" .. port } end
    cosd.exec("sleep 0.05")
  end
  error("cosd did not start: " .. (readfile(d .. "/out") or ""))
end
local function cosd_stop(s)
  cosd.exec("kill -TERM " .. s.pid .. " 2>/dev/null; sleep 0.2; rm -rf " .. q(s.dir))
end

local PARAMS = "ChunkSize = 8 * 1024 * 1024, AsyncLimit = 4"

-- The plain process: the same client options and call, timed around the call alone.
local PLAIN = [[
local COS = require "cos"
local socket = require "socket"
local endpoint, file, key = ...
local cos = COS.new { SecretId = %q, SecretKey = %q, Protocol = "http:", Ip = endpoint, ChunkParallelLimit = 4 }
local t0 = socket.gettime()
local data, err = cos:sliceUploadFile { Bucket = %q, Region = %q, Key = key, FilePath = file, %s }
local dt = socket.gettime() - t0
if not data then print("error " .. tostring(err)) os.exit(1) end
print(("ok seconds=%%.4f"):format(dt))
]]

local HANDLER = [[
local COS = require "cos"
local M = {}
local cos
function M.init_worker(conf)
  local endpoint = assert(io.open(conf)):read("*l")
  cos = COS.new { SecretId = %q, SecretKey = %q, Protocol = "http:", Ip = endpoint, ChunkParallelLimit = 4 }
end
function M.ping()
  ngx.header["Content-Length"] = 5
  ngx.print("pong\n")
end
function M.upload()
  local args = ngx.req.get_uri_args()
  local params = { Bucket = %q, Region = %q, Key = args.key, FilePath = args.file, %s }
  ngx.update_time()
  local t0 = ngx.now()
  local data, err
  if args.mode == "blocking" then -- the engine's own C loop: blocks the worker until done
    local done
    local client = cos._client
    local id = client:start("sliceUploadFile", params, { callback = function(e, d) done, err, data = true, e, d end })
    client:wait(id)
  else
    data, err = cos:sliceUploadFile(params)
  end
  ngx.update_time()
  local dt = ngx.now() - t0
  local body = data and ("ok seconds=%%.4f\n"):format(dt) or ("error " .. tostring(err) .. "\n")
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end
return M
]]

local function plain_run(file)
  local s = cosd_start()
  local script = W .. "/ngx-plain.lua"
  writefile(script, PLAIN:format(cosd.SECRET_ID, cosd.SECRET_KEY, BUCKET, REGION, PARAMS))
  local out = cosd.capture(("LUA_PATH=%s LUA_CPATH=%s luajit %s %s %s plain.bin"):format(
    q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"), q(BUILD .. "/lua/?.so;;"), q(script), s.endpoint, q(file)))
  cosd_stop(s)
  return tonumber(out:match("ok seconds=([%d.]+)")), out
end

-- Reads one HTTP response with a Content-Length from a blocking socket.
local function read_response(sock)
  local len
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    if line == "" then break end
    len = tonumber(line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")) or len
  end
  return sock:receive(len or 0)
end

-- One upload inside nginx while pinging; returns seconds (from the handler) and ping latencies (ms).
local function nginx_run(file, mode)
  local s = cosd_start()
  writefile(W .. "/ngx-endpoint", s.endpoint .. "\n")
  writefile(W .. "/ngx_bench_app.lua", HANDLER:format(cosd.SECRET_ID, cosd.SECRET_KEY, BUCKET, REGION, PARAMS))
  local srv = nginx.start { build = BUILD, root = ROOT, lua_path = W .. "/?.lua;", http = ([[
  init_worker_by_lua_block { require("ngx_bench_app").init_worker("%s/ngx-endpoint") }
]]):format(W), server = [[
    location = /ping { content_by_lua_block { require("ngx_bench_app").ping() } }
    location = /upload { content_by_lua_block { require("ngx_bench_app").upload() } }
]] }
  local ping = assert(socket.connect("127.0.0.1", srv.port))
  ping:settimeout(30)
  local up = assert(socket.connect("127.0.0.1", srv.port))
  up:send(("GET /upload?key=ngx.bin&file=%s&mode=%s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
    :format(file, mode))
  up:settimeout(0)
  local lat, resp = {}, {}
  while true do
    local t0 = socket.gettime()
    assert(ping:send("GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n"))
    assert(read_response(ping))
    lat[#lat + 1] = (socket.gettime() - t0) * 1000
    local chunk, err, partial = up:receive(65536)
    resp[#resp + 1] = chunk or partial or ""
    if err == "closed" then break end
    socket.sleep(math.max(0, 0.010 - (socket.gettime() - t0)))
  end
  ping:close()
  up:close()
  srv:cleanup()
  cosd_stop(s)
  local body = table.concat(resp)
  return tonumber(body:match("ok seconds=([%d.]+)")), lat, body
end

-- main ---------------------------------------------------------------------------------------------
if not nginx.available() then
  log("nginx bench: nginx or its lua module is not installed; skipped")
  return
end
local file = W .. "/ngx-bench.bin"
assert(cosd.exec(("head -c %d /dev/urandom > %s"):format(SIZE_MB * MiB, q(file))))
local load0 = readfile("/proc/loadavg"):match("^(%S+ %S+ %S+)")
local plain, inngx, lat_all = {}, {}, {}
local per_run = {}
for r = 1, RUNS do
  local sp, outp = plain_run(file)
  assert(sp, "plain luajit upload failed: " .. tostring(outp))
  local sn, lat, body = nginx_run(file, "yield")
  assert(sn, "upload in nginx failed: " .. tostring(body))
  plain[#plain + 1], inngx[#inngx + 1] = sp, sn
  for _, v in ipairs(lat) do lat_all[#lat_all + 1] = v end
  per_run[#per_run + 1] = { plain = sp, ngx = sn, pings = #lat, p50 = median(lat), p99 = percentile(lat, 0.99),
    max = percentile(lat, 1) }
  log("run %d: plain luajit %.2f s, in nginx %.2f s, %d pings: p50 %.1f ms, p99 %.1f ms, max %.1f ms", r, sp, sn, #lat,
    per_run[r].p50, per_run[r].p99, per_run[r].max)
end
local sb, lat_b = nginx_run(file, "blocking")
log("blocking C loop in nginx: %.2f s, %d pings: p50 %.1f ms, max %.1f ms", sb or -1, #lat_b, median(lat_b),
  percentile(lat_b, 1))
local load1 = readfile("/proc/loadavg"):match("^(%S+ %S+ %S+)")

local mb = SIZE_MB * MiB / 1e6
local plain_rate, ngx_rate = mb / median(plain), mb / median(inngx)
local ratio = ngx_rate / plain_rate
local p50, p99, pmax = median(lat_all), percentile(lat_all, 0.99), percentile(lat_all, 1)
local function verdict(ok) return ok and "PASS" or "MISS" end

local out = {}
local function p(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
p("<!-- nginx-bench: written by bench/nginx_bench.lua (make bench / make bench-nginx) -->")
p("## OpenResty: pings during a synchronous upload in nginx")
p("")
p("- date: %s; load average at start %s, at end %s (shared machine: figures are noisy)", os.date("!%Y-%m-%d %H:%M:%S UTC"),
  load0, load1)
p("- %s, libnginx-mod-http-lua (LuaJIT: %s), one worker; cosd on loopback, fresh per measurement, data on tmpfs",
  (cosd.capture("nginx -v 2>&1"):match("nginx/%S+") or "nginx"), cosd.capture("luajit -v"):match("LuaJIT %S+") or "?")
p("- sliceUploadFile of %d MiB, ChunkSize 8 MiB, 4 parts in flight (AsyncLimit 4, ChunkParallelLimit 4), called", SIZE_MB)
p("  synchronously in a content handler; meanwhile one keep-alive connection GETs another location (a Lua")
p("  content handler) every 10 ms; latency = request sent to response read. Engine step in nginx: poll(0), then")
p("  ngx.sleep(%g). Plain = the same call in a `luajit` process. %d runs, interleaved; medians.", 0.001, RUNS)
p("")
p("| run | plain luajit s | in nginx s | pings | p50 ms | p99 ms | max ms |")
p("|---|---|---|---|---|---|---|")
for i, r in ipairs(per_run) do
  p("| %d | %.2f | %.2f | %d | %.1f | %.1f | %.1f |", i, r.plain, r.ngx, r.pings, r.p50, r.p99, r.max)
end
p("| blocking C loop (before) | | %.2f | %d | %.1f | %.1f | %.1f |", sb or -1, #lat_b, median(lat_b), percentile(lat_b, 0.99),
  percentile(lat_b, 1))
p("")
p("- throughput: plain luajit %.1f MB/s, in nginx %.1f MB/s: **%.2fx** plain", plain_rate, ngx_rate, ratio)
p("- pings during the uploads (all runs, %d pings): p50 %.1f ms, p99 %.1f ms, max %.1f ms", #lat_all, p50, p99, pmax)
p("- **%s** ping p99 <= 50 ms: %.1f ms", verdict(p99 <= 50), p99)
p("- **%s** ping max <= 100 ms: %.1f ms", verdict(pmax <= 100), pmax)
p("- **%s** throughput >= 0.7x plain luajit: %.2fx", verdict(ratio >= 0.7), ratio)
p("<!-- /nginx-bench -->")
local section = table.concat(out, "\n") .. "\n"
io.stdout:write("\n", section)

local path = ROOT .. "/bench/results.md"
local old = readfile(path) or ""
old = old:gsub("\n?<!%-%- nginx%-bench:.-<!%-%- /nginx%-bench %-%->\n?", "")
writefile(path, old .. (old:sub(-1) == "\n" and "\n" or "\n\n") .. section)
log("\nwritten to bench/results.md")
