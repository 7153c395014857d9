-- putObject, "Upload objects to directory a/b": Key a/b/1.jpg, the body a file object, onProgress.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

local fileObject = assert(io.open(env.temp_file(64 * 1024, "1.jpg"), "rb"))
cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "a/b/1.jpg",   -- Object key stored in the bucket, such as 1.jpg and a/b/test.txt (required)
  Body = fileObject,   -- Upload the file object
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
