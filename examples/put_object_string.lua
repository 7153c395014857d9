-- putObject samples from the reference: a string body, a directory ("a/"), an object in a/b.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- Upload a string as the file content (asynchronous form: callback, then cos:run()).
cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.txt",       -- Object key stored in the bucket (required)
  Body = "hello!",
}, function(err, data)
  env.show("putObject 1.txt:", err or data)
end)
cos:run()

-- Create directory a: an empty body with a key ending in "/" (synchronous form).
local data, err = cos:putObject { Bucket = env.Bucket, Region = env.Region, Key = "a/", Body = "" }
env.show("putObject a/:", err or data)

-- Upload an object to directory a/b, with metadata and a storage class.
data, err = cos:putObject {
  Bucket = env.Bucket, Region = env.Region, Key = "a/b/1.txt", Body = "in a/b",
  StorageClass = "STANDARD", ContentType = "text/plain", ["x-cos-meta-author"] = "lua-cos",
}
env.show("putObject a/b/1.txt:", err or data)

cos:close()
env.stop()
