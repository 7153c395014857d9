-- putObject, "Upload an object (limit the single-URL speed)": the x-cos-traffic-limit header.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

local fileObject = assert(io.open(env.temp_file(32 * 1024, "1.jpg"), "rb"))
cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  StorageClass = "STANDARD",
  Body = fileObject,   -- Upload the file object
  Headers = {
    -- The speed range is 819200-838860800 (bit/s), i.e. 100 KB/s to 100 MB/s. Outside it, 400.
    ["x-cos-traffic-limit"] = 819200,
  },
  onProgress = function(progressData)
    print(env.json(progressData))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()
fileObject:close()

cos:close()
env.exit()
