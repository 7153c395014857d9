-- multipartComplete: assemble the uploaded parts, given each part's PartNumber and ETag.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- (Not in the sample: an upload with one part, standing for 'exampleUploadId' and 'exampleETag'.)
local init = assert(cos:multipartInit { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg" })
local exampleUploadId = init.UploadId
local part = assert(cos:multipartUpload { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg",
  UploadId = exampleUploadId, PartNumber = 1, Body = "the only part (the last part may be < 1 MB)" })
local exampleETag = part.ETag

cos:multipartComplete({
  Bucket = env.Bucket,        -- Your bucket (required)
  Region = env.Region,        -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",              -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  UploadId = exampleUploadId, -- Required
  Parts = {
    { PartNumber = 1, ETag = exampleETag },
  },
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
