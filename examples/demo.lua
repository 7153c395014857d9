-- `make demo`: upload a 64 MiB file with a live progress bar, then check what was stored.
--
-- Without credentials it starts cosd (COSD_BIN, default build/bin/cosd) on a free loopback port
-- with a temporary data directory. With COS_SECRETID, COS_SECRETKEY, COS_BUCKET and COS_REGION
-- set, the same script uploads to real COS over HTTPS (and deletes the object afterwards unless
-- COS_DEMO_KEEP=1).
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local COS = env.COS

local MiB = 1024 * 1024
local SIZE = tonumber(os.getenv("COS_DEMO_MIB") or "64") * MiB
local KEY = ("lua-cos-demo/%d-%d.bin"):format(os.time(), math.random(1000, 9999))

local tty = os.execute("test -t 1") == true
local function now()
  -- wall clock with sub-second resolution, without a Lua C library
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

local function fmt_time(sec)
  if not sec or sec ~= sec or sec == math.huge then return "--:--" end
  sec = math.floor(sec + 0.5)
  return ("%d:%02d"):format(math.floor(sec / 60), sec % 60)
end

-- One terminal line, redrawn in place: bar, percent, MB/s (smoothed), ETA.
local function progress_bar(total)
  local width, speed, shown = 30, nil, -1
  return function(p)
    local loaded = p.loaded or 0
    if p.speed and p.speed > 0 then speed = speed and (0.7 * speed + 0.3 * p.speed) or p.speed end
    local frac = total > 0 and loaded / total or 1
    local filled = math.floor(frac * width + 0.5)
    local eta = (speed and speed > 0) and (total - loaded) / speed or nil
    local line = ("[%s%s] %5.1f%%  %7.1f MB/s  ETA %s"):format(("#"):rep(filled), ("."):rep(width - filled),
      frac * 100, (speed or 0) / MiB, fmt_time(eta))
    if tty then
      io.write("\r", line, " ")
      io.flush()
    elseif math.floor(frac * 10) ~= shown then -- not a terminal: one line per 10 %
      shown = math.floor(frac * 10)
      print(line)
    end
  end
end

local ok, failure = pcall(function()
  print("lua-cos " .. COS.VERSION .. " demo: uploading to " .. env.where)
  local cos = COS.new(env.options { ProgressInterval = 100, ChunkParallelLimit = 4 })
  local dir = env.tmpdir()
  local src = dir .. "/demo-64MiB.bin"
  assert(os.execute(("head -c %d /dev/urandom > '%s'"):format(SIZE, src)), "cannot create the test file")
  print(("created %s (%d MiB of random bytes)"):format(src, math.floor(SIZE / MiB)))

  -- uploadFile picks putObject or a multipart upload by size; older cores only have putObject.
  local params = {
    Bucket = env.Bucket, Region = env.Region, Key = KEY, FilePath = src, SliceSize = 8 * MiB,
    onProgress = progress_bar(SIZE),
  }
  local t0 = now()
  local result
  local method = "uploadFile"
  local id, err = cos:uploadFile(params, function(e, d) result = { err = e, data = d } end)
  if not id then
    method = "putObject"
    params.SliceSize = nil
    id, err = cos:putObject(params, function(e, d) result = { err = e, data = d } end)
  end
  if not id then error("cannot start the upload: " .. tostring(err)) end
  cos:run()
  local elapsed = now() - t0
  if tty then io.write("\n") end
  if result.err then error("upload failed: " .. tostring(result.err)) end
  local data = result.data

  -- Check what was stored: HEAD, then a download compared by MD5 (md5sum, not Lua).
  local head = assert(cos:headObject { Bucket = env.Bucket, Region = env.Region, Key = KEY })
  local stored = tonumber(head.headers["content-length"])
  local out = dir .. "/downloaded.bin"
  local got, gerr = cos:getObject { Bucket = env.Bucket, Region = env.Region, Key = KEY, Output = out }
  if not got then error("download failed: " .. tostring(gerr)) end
  local md5_src, md5_out = env.md5(src), env.md5(out)

  print(("uploaded   %s with %s in %.2f s (%.1f MB/s)"):format(KEY, method, elapsed, SIZE / MiB / elapsed))
  print(("location   %s"):format(tostring(data.Location)))
  print(("ETag       %s"):format(tostring(data.ETag)))
  print(("HEAD       %s bytes, %s"):format(tostring(stored), stored == SIZE and "size matches" or "SIZE MISMATCH"))
  print(("MD5        local %s, downloaded %s: %s"):format(md5_src, md5_out,
    md5_src == md5_out and "identical" or "DIFFERENT"))

  if env.remote and os.getenv("COS_DEMO_KEEP") ~= "1" then
    cos:deleteObject { Bucket = env.Bucket, Region = env.Region, Key = KEY }
  end
  cos:close()
  os.execute("rm -rf '" .. dir .. "'")
  if stored ~= SIZE or md5_src ~= md5_out then error("the stored object does not match the file") end
end)

env.stop()
if not ok then
  io.stderr:write("demo failed: " .. tostring(failure) .. "\n")
  os.exit(1)
end
print("demo OK")
