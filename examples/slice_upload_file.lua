-- sliceUploadFile, "Uploading object by using multipart upload (checkpoint restart)", with
-- onTaskReady, onHashProgress and onProgress. COS_EXAMPLE_MIB sets the file size (default 3).
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024 })

local size = math.floor(tonumber(os.getenv("COS_EXAMPLE_MIB") or "3") * 1024 * 1024)
local filePath = env.temp_file(size) -- Local file path
cos:sliceUploadFile({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  FilePath = filePath, -- Required
  onTaskReady = function(taskId) -- Optional
    print(taskId)
  end,
  onHashProgress = function(progressData) -- Optional
    print(env.json(progressData))
  end,
  onProgress = function(progressData) -- Optional
    print(env.json(progressData))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
