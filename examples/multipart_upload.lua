-- multipartUpload: upload part 1 of a multipart upload from a stream (an io file), with
-- ContentLength '1024', and keep its ETag.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- (Not in the sample: 'exampleUploadId' comes from multipartInit.)
local init = assert(cos:multipartInit { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg" })
local exampleUploadId = init.UploadId

local filePath = env.temp_file(1024) -- Local file path
local eTag
local stream = assert(io.open(filePath, "rb")) -- fs.createReadStream(filePath)
cos:multipartUpload({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  ContentLength = "1024",
  UploadId = exampleUploadId,
  PartNumber = 1,
  Body = stream,
}, function(err, data)
  env.log(err, data)
  if data then
    eTag = data.ETag
  end
end)
cos:run()
stream:close()
env.expect(eTag, "the part's ETag")

-- (Not in the sample: abort the upload again.)
cos:multipartAbort { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", UploadId = exampleUploadId }
cos:close()
env.exit()
