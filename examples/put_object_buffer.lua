-- putObject, "Upload a Buffer object as the file content". Lua strings are byte buffers, so
-- Buffer.from('hello!') is the string's bytes; any binary string works the same way.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

cos:putObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.txt",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  Body = string.char(("hello!"):byte(1, -1)), -- Buffer.from('hello!') (required)
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
