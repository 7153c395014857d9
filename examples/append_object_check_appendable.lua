-- appendObject, "Check whether parts can be appended to an object in a bucket": headObject, then
-- the x-cos-object-type response header.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

env.appendable(cos, "test.txt") -- (not in the sample: make test.txt an appendable object first)

cos:headObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "test.txt",    -- Object key stored in the bucket, such as 1.jpg and a/b/test.txt (required)
}, function(err, data)
  if err then return env.log(err) end
  -- Against real COS from a browser, x-cos-object-type needs expose-headers in the CORS rules.
  local objectType = data.headers["x-cos-object-type"]
  print(objectType == "appendable")
  env.expect(objectType == "appendable", "test.txt is appendable")
end)
cos:run()

cos:close()
env.exit()
