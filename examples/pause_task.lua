-- "Pausing upload task": cos:pauseTask(taskId) with the id onTaskReady gave; the paused task
-- waits until cos:restartTask(taskId) (see restart_task.lua) or cos:cancelTask(taskId).
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024, ChunkParallelLimit = 1, ProgressInterval = 1 })

local filePath = env.temp_file(3 * 1024 * 1024) -- Local file path
local taskId
cos:sliceUploadFile({
  Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", FilePath = filePath,
  onTaskReady = function(id) taskId = id end,
  onProgress = function(progressData)
    print(env.json(progressData))
    -- pause once the first part is up
    if progressData.loaded > 0 and progressData.loaded < progressData.total and cos:getTaskList()[1].state == "uploading" then
      cos:pauseTask(taskId)
    end
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run() -- returns when nothing but the paused task is left

local task = cos:getTaskList()[1]
print("task", task.id, task.state)
env.expect(task.state == "paused", "the task is paused")

-- (Not in the sample: cancel it, so that nothing is left behind.)
cos:cancelTask(taskId)
cos:close()
env.exit()
