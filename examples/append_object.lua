-- appendObject samples from the reference: the first append at Position 0, checking that the
-- object is appendable with headObject, then appending at the position HEAD reports.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())
local Key = "test.txt"

-- Append parts for the first time (Position 0).
cos:appendObject({
  Bucket = env.Bucket, Region = env.Region, Key = Key, Body = "first part\n", Position = 0,
}, function(err, data)
  env.show("appendObject at 0:", err or data)
end)
cos:run()

-- Check whether parts can be appended to the object.
cos:headObject({ Bucket = env.Bucket, Region = env.Region, Key = Key }, function(err, data)
  if err then return env.show("headObject:", err) end
  local objectType = data.headers["x-cos-object-type"]
  print("appendable:", objectType == "appendable")
end)
cos:run()

-- Query the position for the next append and append there.
cos:headObject({ Bucket = env.Bucket, Region = env.Region, Key = Key }, function(err, data)
  if err then return env.show("headObject:", err) end
  local position = data.headers["content-length"]
  cos:appendObject({
    Bucket = env.Bucket, Region = env.Region, Key = Key, Body = "66666", Position = position,
  }, function(err2, data2)
    if err2 then return env.show("appendObject:", err2) end
    print("next position:", data2.headers["x-cos-next-append-position"])
  end)
end)
cos:run()

cos:close()
env.stop()
