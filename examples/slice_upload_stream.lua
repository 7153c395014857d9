-- sliceUploadFile and uploadFile from streams of unknown length: a pipe from io.popen (here a
-- `tar | gzip` of a generated directory) and a Lua reader function. Nothing is written to disk
-- first and memory stays within ChunkSize x ChunkParallelLimit whatever the length.
-- COS_EXAMPLE_MIB sets the size of the generated data (default 3).
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ChunkSize = 1024 * 1024 })

local size = math.floor(tonumber(os.getenv("COS_EXAMPLE_MIB") or "3") * 1024 * 1024)
local file = env.temp_file(size)

-- 1. A pipe: the archive goes up while tar and gzip produce it.
local pipe = assert(io.popen("tar -cf - -C / " .. file:sub(2) .. " | gzip -1", "r"))
cos:sliceUploadFile({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "backup.tar.gz", -- Object key stored in the bucket (required)
  Body = pipe,           -- an io handle (file, io.stdin, io.popen pipe) or a reader function
  onProgress = function(progressData) -- total (and percent) are only known once the stream ends
    print(env.json(progressData))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()
pipe:close()

-- 2. A reader function: returns the next chunk, nil (or "") at the end; an error it raises fails
-- the upload. uploadFile sends a stream that ends within SliceSize as one PUT.
local lines, n = { "id,value\n" }, 0
local data, err = cos:uploadFile({
  Bucket = env.Bucket,
  Region = env.Region,
  Key = "report.csv",
  Body = function()
    n = n + 1
    if n > 1000 then return nil end
    return ("%d,%d\n"):format(n, n * n)
  end,
  onFileFinish = function(err, data, options) -- Optional
    print("finished", options.Key, err and err.code or data.statusCode)
  end,
})
env.log(err, data)

cos:close()
env.exit()
