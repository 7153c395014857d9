-- multipartList, "Get the list of incomplete multipart uploads with UploadId prefixed with a".
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- (Not in the sample: start one upload under a/ so that the list has an entry; aborted below.)
local init = cos:multipartInit { Bucket = env.Bucket, Region = env.Region, Key = "a/1.jpg" }
env.expect(init and init.UploadId, "multipartInit a/1.jpg")

cos:multipartList({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Prefix = "a",        -- Optional
}, function(err, data)
  env.log(err, data)
  if data then
    for _, upload in ipairs(data.Upload or {}) do print("", upload.Key, upload.UploadId) end
  end
end)
cos:run()

if init then cos:multipartAbort { Bucket = env.Bucket, Region = env.Region, Key = "a/1.jpg", UploadId = init.UploadId } end
cos:close()
env.exit()
