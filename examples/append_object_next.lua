-- appendObject, "Query the position of the object for parts appending and start upload": the
-- position is headObject's content-length header (a string, as in the sample), and the append
-- reports the next position in x-cos-next-append-position.
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
  -- Get the current length (position for upload) of the file to be appended
  local position = data.headers["content-length"]
  cos:appendObject({
    Bucket = env.Bucket, -- Your bucket (required)
    Region = env.Region, -- Bucket region (required), such as ap-beijing
    Key = "test.txt",    -- Object key stored in the bucket, such as 1.jpg and a/b/test.txt (required)
    Body = "66666",
    Position = position,
  }, function(err, data)
    if err then return env.log(err) end
    -- Get the position for the next upload and continue appending parts
    local nextPosition = data.headers["x-cos-next-append-position"]
    print(nextPosition)
    env.expect(tonumber(nextPosition) == 11, "next position is 6 + 5")
  end)
end)
cos:run()

cos:close()
env.exit()
