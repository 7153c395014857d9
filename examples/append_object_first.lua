-- appendObject, "Append parts for the first time": Position 0 creates an appendable object.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- (Not in the sample: remove test.txt first, so that the example can run again.)
cos:deleteObject { Bucket = env.Bucket, Region = env.Region, Key = "test.txt" }

local fileObject = assert(io.open(env.temp_file(1024, "test.txt"), "rb"))
cos:appendObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "test.txt",    -- Object key stored in the bucket, such as 1.jpg and a/b/test.txt (required)
  Body = fileObject,   -- Upload the file object
  Position = 0,        -- The value is 0 for the first upload.
}, function(err, data)
  env.log(err, data)
end)
cos:run()
fileObject:close()

cos:close()
env.exit()
