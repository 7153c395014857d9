-- "Canceling upload task": cos:cancelTask(taskId) with the id onTaskReady gave. The task's
-- callback then gets an error with code "TaskCanceled" (the Node SDK never calls back), and the
-- task list shows the task as canceled.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024, ChunkParallelLimit = 1, ProgressInterval = 1 })

local filePath = env.temp_file(3 * 1024 * 1024) -- Local file path
local taskId, called = nil, false
cos:sliceUploadFile({
  Bucket = env.Bucket, Region = env.Region, Key = "1.jpg", FilePath = filePath,
  onTaskReady = function(id) taskId = id end,
  onProgress = function(progressData)
    print(env.json(progressData))
    if progressData.loaded > 0 and progressData.loaded < progressData.total and cos:getTaskList()[1].state == "uploading" then
      cos:cancelTask(taskId)
    end
  end,
}, function(err, data)
  called = true
  if err and err.code == "TaskCanceled" then return print("canceled:", err.message) end
  env.log(err, data)
end)
cos:run()

local task = cos:getTaskList()[1]
print("task", task.id, task.state)
env.expect(task.state == "canceled", "the task is canceled")
env.expect(called, "the callback ran")

cos:close()
env.exit()
