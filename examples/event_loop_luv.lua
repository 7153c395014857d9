-- Driving lua-cos from your own event loop: libuv through luv (Debian: lua-luv). lua-cos lists the
-- sockets to watch and the next timeout; cos.luv turns them into uv poll handles and one uv timer,
-- so the loop sleeps until there is something to do: no cos:poll() in a busy loop.
-- Meanwhile the same loop runs a timer of its own, as any host application would.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local ok, uv = pcall(require, "luv")
if not ok then
  print("this example needs luv (apt install lua-luv)")
  env.exit()
end

local cos = env.COS.new(env.options { ProgressInterval = 200 })
local driver = require("cos.luv").attach(cos, uv)

local big = env.temp_file(20 * 1024 * 1024, "big.bin")
local done = 0
cos:sliceUploadFile({
  Bucket = env.Bucket, Region = env.Region, Key = "loop/big.bin", FilePath = big,
  onProgress = function(p) print(("big.bin %3d%%"):format(math.floor(p.percent * 100))) end,
}, function(err, data)
  env.log(err, data and { ETag = data.ETag })
  done = done + 1
end)
cos:putObject({ Bucket = env.Bucket, Region = env.Region, Key = "loop/hello.txt", Body = "hello from luv" },
  function(err, data)
    env.log(err, data and { ETag = data.ETag })
    done = done + 1
  end)
driver:update() -- operations started outside a lua-cos callback: tell the driver

-- the host's own work, on the same loop
local ticks = 0
local tick = uv.new_timer()
tick:start(50, 50, function()
  ticks = ticks + 1
  if done == 2 then tick:stop(); tick:close() end
end)

uv.run() -- returns when neither lua-cos nor the host has anything left
driver:detach()
uv.run() -- lets libuv finish closing the watchers
print(("both uploads done; the host's timer ticked %d times meanwhile"):format(ticks))
env.expect(done == 2, "both uploads called back")
cos:close()
env.exit()
