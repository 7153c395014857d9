-- "Resuming upload task": cos:restartTask(taskId) resumes a task paused by cos:pauseTask (or
-- paused by an upload error); the parts already uploaded are not sent again.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024, ChunkParallelLimit = 1, ProgressInterval = 1 })

local filePath = env.temp_file(3 * 1024 * 1024) -- Local file path
local taskId, paused, result = nil, false, nil
cos:sliceUploadFile({
  Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", FilePath = filePath,
  onTaskReady = function(id) taskId = id end,
  onProgress = function(progressData)
    print(env.json(progressData))
    if not paused and progressData.loaded > 0 and progressData.loaded < progressData.total then
      paused = cos:pauseTask(taskId)
    end
  end,
}, function(err, data)
  env.log(err, data)
  result = data
end)
cos:run()
env.expect(paused and cos:getTaskList()[1].state == "paused", "paused first")

cos:restartTask(taskId)
cos:run()
env.expect(result and result.ETag, "the upload finished after the restart")

cos:close()
env.exit()
