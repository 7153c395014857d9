-- uploadDirectory: back up a local folder to a key prefix, recursively, with one progress line.
-- Objects already there with the same size and CRC-64 are skipped, so running it again after an
-- interruption (or after some files failed) sends only what is missing.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options { ProgressInterval = 200 })

-- a small tree to back up: a few files in nested folders, and a bigger one (multipart)
local folder = env.tmpdir()
os.execute(("mkdir -p '%s/docs/2024' '%s/photos'"):format(folder, folder))
for i = 1, 5 do
  local f = assert(io.open(("%s/docs/2024/note-%d.txt"):format(folder, i), "w"))
  f:write("note ", i, "\n")
  f:close()
end
os.execute(("head -c %d /dev/urandom > '%s/photos/big.jpg'"):format(12 * 1024 * 1024, folder))

local function backup()
  local data, err = cos:uploadDirectory {
    Bucket = env.Bucket, Region = env.Region,
    LocalPath = folder,
    Prefix = "backup/",        -- keys: backup/docs/2024/note-1.txt, backup/photos/big.jpg, ...
    Symlinks = "skip",         -- or "follow", or "error"
    onProgress = function(p)
      print(("%3d%%  %d/%d files  %.1f MB/s"):format(math.floor(p.percent * 100), p.filesDone + p.filesFailed,
        p.filesTotal, p.speed / 1e6))
    end,
  }
  if not data then
    env.log(err)
    return nil
  end
  print(("sent %d, skipped %d (already there), failed %d"):format(#data.files, #data.skipped, #data.failed))
  for _, f in ipairs(data.failed) do print("  failed:", f.Key, tostring(f.error)) end
  return data
end

local first = backup()
env.expect(first and #first.files == 6 and #first.failed == 0, "first run sends all 6 files")
print("running it again:")
local second = backup()
env.expect(second and #second.files == 0 and #second.skipped == 6, "second run skips all 6")
os.execute(("rm -rf '%s'"):format(folder))
cos:close()
env.exit()
