-- putObject, "Create directory a": an empty body under a key ending in "/".
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "a/",          -- Object key stored in the bucket, such as 1.jpg and a/b/test.txt (required)
  Body = "",
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
