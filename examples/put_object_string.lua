-- putObject, "Upload a string as the file content".
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.txt",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  Body = "hello!",
}, function(err, data)
  env.log(err, data)
end)
cos:run()

-- The same call without a callback runs synchronously and returns data, or nil, err.
local data, err = cos:putObject { Bucket = env.Bucket, Region = env.Region, Key = "1.txt", Body = "hello!" }
env.log(err, data)

cos:close()
env.exit()
