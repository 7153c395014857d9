-- multipartInit: initialize a multipart upload and keep its UploadId.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

local uploadId
cos:multipartInit({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
}, function(err, data)
  env.log(err, data)
  if data then
    uploadId = data.UploadId
  end
end)
cos:run()
env.expect(uploadId, "an UploadId")

-- (Not in the sample: abort the upload again, so that no parts are left behind.)
if uploadId then cos:multipartAbort { Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", UploadId = uploadId } end
cos:close()
env.exit()
