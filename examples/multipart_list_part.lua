-- multipartListPart: list the parts uploaded so far in a multipart upload.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- (Not in the sample: an upload with one part, whose UploadId stands for 'exampleUploadId'.)
local init = assert(cos:multipartInit { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg" })
local exampleUploadId = init.UploadId
assert(cos:multipartUpload { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg",
  UploadId = exampleUploadId, PartNumber = 1, Body = "part one" })

cos:multipartListPart({
  Bucket = env.Bucket,        -- Your bucket (required)
  Region = env.Region,        -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",              -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  UploadId = exampleUploadId, -- Required
}, function(err, data)
  env.log(err, data)
  if data then
    for _, part in ipairs(data.Part or {}) do print("", part.PartNumber, part.ETag, part.Size) end
    env.expect(#(data.Part or {}) == 1, "one part listed")
  end
end)
cos:run()

cos:multipartAbort { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", UploadId = exampleUploadId }
cos:close()
env.exit()
