-- putObject, "Upload a small file": a stream body (an io file) with ContentLength and onProgress.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ProgressInterval = 200 })

local filePath = env.temp_file(256 * 1024) -- Local file path
local stream = assert(io.open(filePath, "rb")) -- fs.createReadStream(filePath)
local size = stream:seek("end") -- fs.statSync(filePath).size
stream:seek("set", 0)
cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  StorageClass = "STANDARD",
  -- If the Body is a stream (an io file), ContentLength must be passed in; otherwise onProgress
  -- cannot return the correct progress information.
  Body = stream, -- Uploaded file object
  ContentLength = size,
  onProgress = function(progressData)
    print(env.json(progressData))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()
stream:close()

cos:close()
env.exit()
