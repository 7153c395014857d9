-- "Upload queue": every putObject / sliceUploadFile / uploadFile task is listed by
-- cos:getTaskList(); cos:on('list-update', callback) hears list and progress changes.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024 })

local updates = 0
cos:on("list-update", function(data)
  updates = updates + 1
  for _, task in ipairs(data.list) do
    print(("list-update: task %d %s %s %d/%d"):format(task.id, task.Key, task.state, task.loaded or 0, task.size or -1))
  end
end)

local filePath = env.temp_file(2 * 1024 * 1024) -- Local file path
cos:sliceUploadFile({ Bucket = env.Bucket, Region = env.Region, Key = "queue/big.bin", FilePath = filePath },
  function(err, data) env.log(err, data) end)
cos:putObject({ Bucket = env.Bucket, Region = env.Region, Key = "queue/small.txt", Body = "hello!" },
  function(err, data) env.log(err, data) end)

-- 1. var taskList = cos.getTaskList()
local taskList = cos:getTaskList()
for _, task in ipairs(taskList) do print("queued:", task.id, task.Key, task.state) end
env.expect(#taskList == 2, "two tasks listed")
cos:run()

for _, task in ipairs(cos:getTaskList()) do
  print("after run:", task.id, task.Key, task.state)
  env.expect(task.state == "success", "task " .. task.id .. " succeeded")
end
env.expect(updates > 0, "list-update fired")

cos:close()
env.exit()
