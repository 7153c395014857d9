-- putObject of a file, as in the reference sample: a stream body (here an io file handle) with
-- ContentLength and onProgress; then the same file by FilePath, and with a traffic limit header.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ProgressInterval = 200 })

local dir = env.tmpdir()
local filePath = dir .. "/temp-file-to-upload" -- Local file path
os.execute(("head -c %d /dev/urandom > '%s'"):format(5 * 1024 * 1024, filePath))

local function onProgress(progressData)
  print(("progress loaded=%d total=%d speed=%.0f percent=%.2f"):format(progressData.loaded,
    progressData.total or -1, progressData.speed, progressData.percent))
end

-- Upload a small file from a stream: Body is an io file, ContentLength is required for progress.
local f = assert(io.open(filePath, "rb"))
local size = f:seek("end")
f:seek("set", 0)
cos:putObject({
  Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", StorageClass = "STANDARD",
  Body = f, ContentLength = size, onProgress = onProgress,
}, function(err, data)
  f:close()
  env.show("putObject 1.jpg (stream):", err or data)
end)
cos:run()

-- The same file by path (the core streams it from disk).
local data, err = cos:putObject {
  Bucket = env.Bucket, Region = env.Region, Key = "a/b/1.jpg", FilePath = filePath, onProgress = onProgress,
}
env.show("putObject a/b/1.jpg (FilePath):", err or data)

-- Limit the single-URL speed: x-cos-traffic-limit in bit/s (819200 .. 838860800).
data, err = cos:putObject {
  Bucket = env.Bucket, Region = env.Region, Key = "limited.jpg", FilePath = filePath,
  Headers = { ["x-cos-traffic-limit"] = 838860800 }, onProgress = onProgress,
}
env.show("putObject limited.jpg:", err or data)

cos:close()
os.execute("rm -rf '" .. dir .. "'")
env.stop()
