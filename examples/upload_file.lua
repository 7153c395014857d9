-- uploadFile, "Advanced upload": a file over SliceSize goes through sliceUploadFile (multipart),
-- a smaller one through putObject; onTaskReady, onProgress and onFileFinish as in the sample.
-- COS_EXAMPLE_MIB sets the file size (default 6 MiB: above the 5 MB SliceSize, so multipart).
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024 })

local size = math.floor(tonumber(os.getenv("COS_EXAMPLE_MIB") or "6") * 1024 * 1024)
local filePath = env.temp_file(size) -- Local file path
cos:uploadFile({
  Bucket = env.Bucket,        -- Your bucket (required)
  Region = env.Region,        -- Bucket region (required), such as ap-beijing
  Key = "1.jpg",              -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
  FilePath = filePath,        -- Required
  SliceSize = 1024 * 1024 * 5, -- The threshold (5 MB in this example) to trigger multipart upload (optional)
  onTaskReady = function(taskId) -- Optional
    print(taskId)
  end,
  onProgress = function(progressData) -- Optional
    print(env.json(progressData))
  end,
  onFileFinish = function(err, data, options) -- Optional
    print(options.Key .. " upload " .. (err and "failed" or "completed"))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
