-- uploadFiles, "Batch upload": two files, each with its own onTaskReady; the aggregated
-- onProgress; onFileFinish per file; the final callback with data.files.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

local filePath1 = env.temp_file(300 * 1024, "1.jpg") -- Local file path
local filePath2 = env.temp_file(2 * 1024 * 1024, "2.jpg") -- Local file path
local ready = 0
cos:uploadFiles({
  files = { {
    Bucket = env.Bucket, -- Your bucket (required)
    Region = env.Region, -- Bucket region (required), such as ap-beijing
    Key = "1.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
    FilePath = filePath1,
    onTaskReady = function(taskId)
      -- Based on taskId, you can use queue operations to cancel (cos:cancelTask(taskId)),
      -- pause (cos:pauseTask(taskId)), or resume (cos:restartTask(taskId)) the upload.
      print(taskId)
      ready = ready + 1
    end,
  }, {
    Bucket = env.Bucket, -- Your bucket (required)
    Region = env.Region, -- Bucket region (required), such as ap-beijing
    Key = "2.jpg",       -- Object key stored in the bucket (required), such as 1.jpg and a/b/test.txt
    FilePath = filePath2,
    onTaskReady = function(taskId)
      -- Based on taskId, you can use queue operations to cancel (cos:cancelTask(taskId)),
      -- pause (cos:pauseTask(taskId)), or resume (cos:restartTask(taskId)) the upload.
      print(taskId)
      ready = ready + 1
    end,
  } },
  SliceSize = 1024 * 1024 * 10, -- Set the file size threshold to trigger a multipart upload to 10 MB.
  onProgress = function(info)
    local percent = math.floor(info.percent * 10000) / 100
    local speed = math.floor(info.speed / 1024 / 1024 * 100) / 100
    print("progress:" .. percent .. "%; speed:" .. speed .. "Mb/s;")
  end,
  onFileFinish = function(err, data, options)
    print(options.Key .. " upload " .. (err and "failed" or "completed"))
  end,
}, function(err, data)
  env.log(err, data)
  if data then
    for i, f in ipairs(data.files) do
      print("", i, f.options.Key, f.error and "failed" or "completed")
      env.expect(not f.error, "file " .. i)
    end
  end
end)
cos:run()
env.expect(ready == 2, "both files' onTaskReady ran")

cos:close()
env.exit()
