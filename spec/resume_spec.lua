-- Resuming across processes: an uploader killed with SIGKILL about half way, then a new process.
-- The checkpoint file lets the new process confirm the upload with List Parts and send only the
-- parts the server does not have; without a checkpoint, the Node SDK's fallback (List Multipart
-- Uploads + MD5 of the listed parts) finds the same upload. A changed file starts over.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB
local PARTS = 32

-- A standalone uploader: prints "OK <UploadId> <hash bytes>" or "ERR <code> <message>".
local UPLOADER = [[
local COS = require "cos"
local a = { ... }
local endpoint, ckpt, path, key = os.getenv("EP"), os.getenv("CKPT"), os.getenv("FILE"), os.getenv("KEY")
local cos = COS.new { SecretId = %q, SecretKey = %q, Protocol = "http:", Ip = endpoint,
  CheckpointDir = ckpt ~= "" and ckpt or nil, Checkpoint = ckpt ~= "", ChunkParallelLimit = 3, ChunkSize = 1048576 }
local hashed = 0
local data, err = cos:sliceUploadFile { Bucket = %q, Region = %q, Key = key, FilePath = path,
  onHashProgress = function(p) if p.loaded > hashed then hashed = p.loaded end end }
if data then print("OK " .. data.UploadId .. " " .. hashed) else print("ERR " .. tostring(err.code) .. " " .. tostring(err.message)) end
cos:close()
]]

local function run_uploader(dir, srv, key, path, ckpt, kill_after_parts)
  local script = dir .. "/uploader.lua"
  U.write(script, UPLOADER:format(cosd.SECRET_ID, cosd.SECRET_KEY, U.BUCKET, U.REGION))
  local env_script = dir .. "/run.sh"
  U.write(env_script, ("EP=%s CKPT=%s FILE=%s KEY=%s exec %s %s\n"):format(cosd.sh_quote(srv.endpoint),
    cosd.sh_quote(ckpt or ""), cosd.sh_quote(path), cosd.sh_quote(key), cosd.LUA, cosd.sh_quote(script)))
  local out = dir .. "/uploader.out"
  os.remove(out)
  local pid = U.spawn_sh(env_script, out)
  if kill_after_parts then
    local deadline = U.now() + 60
    while U.now() < deadline do
      local n = 0
      for _, l in ipairs(U.part_puts(srv, key, true)) do if l.status == 200 then n = n + 1 end end
      if n >= kill_after_parts or not U.alive(pid) then break end
      os.execute("sleep 0.02")
    end
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    U.wait_exit(pid, 10)
    -- the server finishes the requests the dead process had in flight (their answers are stalled)
    os.execute("sleep 0.3")
    return nil
  end
  assert(U.wait_exit(pid, 90), "the uploader did not finish")
  return (U.read(out) or ""):match("[^\n]*")
end

describe("resume across processes", function()
  local srv, cos, dir

  before_each(function()
    dir = U.tmpdir()
    -- every part answer waits a little, so that the kill lands in the middle of the upload; an
    -- abort is answered late, so that a new upload's List Multipart Uploads still lists the upload
    -- being aborted (which must not be resumed)
    srv = cosd.start { faults = { "op=UploadPart,stall=40", "op=AbortMultipartUpload,stall=150" } }
    cos = COS.new(srv:client_options { Checkpoint = false })
  end)

  after_each(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("after kill -9 at half way, a new process resumes the upload and sends no confirmed part again", function()
    local path = U.random_file(dir .. "/big.bin", PARTS * MIB)
    local ckpt = dir .. "/ckpt"
    run_uploader(dir, srv, "big.bin", path, ckpt, PARTS / 2)
    local first = #U.access_log(srv)
    local done_before = select(2, U.parts_sent_twice(srv, "big.bin"))
    local n_before = 0
    for _ in pairs(done_before) do n_before = n_before + 1 end
    assert.is_true(n_before >= PARTS / 2 and n_before < PARTS, "killed at " .. n_before)
    local files = cosd.capture("ls " .. cosd.sh_quote(ckpt))
    assert.truthy(files:match("cos%-upload%-%x+%.ckpt"))
    local ids = U.pending_uploads(cos, "big.bin")
    assert.are.equal(1, #ids)

    local line = run_uploader(dir, srv, "big.bin", path, ckpt)
    local id, hashed = line:match("^OK (%S+) (%S+)")
    assert.are.equal(ids[1], id, line)
    -- confirmed parts were neither sent again nor hashed; parts the checkpoint missed (finished
    -- just before the kill) may be hashed, never re-sent
    assert.is_true(tonumber(hashed) <= 3 * MIB, "hashed " .. hashed)
    assert.are.same({}, (U.parts_sent_twice(srv, "big.bin")))
    local log = U.access_log(srv)
    local listed, inits = false, 0
    for i = first + 1, #log do
      if log[i].method == "GET" and log[i].target:find("?uploadId=", 1, true) then listed = true end
      if log[i].method == "POST" and log[i].target:find("?uploads", 1, true) then inits = inits + 1 end
    end
    assert.is_true(listed)
    assert.are.equal(0, inits)
    assert.is_true(U.object_equals_file(cos, "big.bin", path))
    assert.are.same({}, U.pending_uploads(cos, "big.bin"))
    assert.are.equal("", cosd.capture("ls " .. cosd.sh_quote(ckpt)))
  end)

  it("starts over and aborts the old upload when the file changed (size or mtime)", function()
    local path = U.random_file(dir .. "/chg.bin", 16 * MIB)
    local ckpt = dir .. "/ckpt"
    run_uploader(dir, srv, "chg.bin", path, ckpt, 6)
    local old = U.pending_uploads(cos, "chg.bin")
    assert.are.equal(1, #old)
    assert(cosd.exec("touch -d '+2 min' " .. cosd.sh_quote(path)))
    local line = run_uploader(dir, srv, "chg.bin", path, ckpt)
    local id = line:match("^OK (%S+)")
    assert.truthy(id, line)
    assert.are_not.equal(old[1], id)
    assert.are.equal(1, #U.log_matching(srv, "DELETE", "uploadId=" .. old[1]))
    assert.are.same({}, U.pending_uploads(cos, "chg.bin"))
    assert.is_true(U.object_equals_file(cos, "chg.bin", path))
  end)

  it("a changed file never adopts the upload it is aborting, however late the Abort is answered", function()
    -- touched, not rewritten: the old parts still match by MD5, so listing uploads before the
    -- Abort is answered would find the old upload and take it
    local path = U.random_file(dir .. "/late.bin", 16 * MIB)
    local ckpt = dir .. "/ckpt"
    run_uploader(dir, srv, "late.bin", path, ckpt, 6)
    local old = U.pending_uploads(cos, "late.bin")
    assert.are.equal(1, #old)
    assert(cosd.exec("touch -d '+2 min' " .. cosd.sh_quote(path)))
    U.restart(srv, { "op=UploadPart,stall=40", "op=AbortMultipartUpload,stall=1500" })
    local line = run_uploader(dir, srv, "late.bin", path, ckpt)
    local id = line:match("^OK (%S+)")
    assert.truthy(id, line)
    assert.are_not.equal(old[1], id)
    -- the new upload was initiated only after the old one's Abort had been answered
    local log = U.access_log(srv)
    local abort_at, init_at
    for i, l in ipairs(log) do
      if l.method == "DELETE" and l.target:find("uploadId=" .. old[1], 1, true) then abort_at = abort_at or i end
      if l.method == "POST" and l.target:find("?uploads", 1, true) then init_at = i end
    end
    assert.truthy(abort_at and init_at and abort_at < init_at, "Abort logged before the new Initiate")
    assert.are.same({}, U.pending_uploads(cos, "late.bin"))
    assert.is_true(U.object_equals_file(cos, "late.bin", path))
  end)

  it("without a checkpoint, finds the upload with List Multipart Uploads and checks parts by MD5", function()
    local path = U.random_file(dir .. "/nock.bin", 16 * MIB)
    run_uploader(dir, srv, "nock.bin", path, nil, 6)
    local old = U.pending_uploads(cos, "nock.bin")
    assert.are.equal(1, #old)
    local line = run_uploader(dir, srv, "nock.bin", path, nil)
    local id, hashed = line:match("^OK (%S+) (%S+)")
    assert.are.equal(old[1], id, line)
    assert.is_true(tonumber(hashed) >= 6 * MIB, "hashed " .. tostring(hashed))
    assert.are.same({}, (U.parts_sent_twice(srv, "nock.bin")))
    assert.is_true(U.object_equals_file(cos, "nock.bin", path))
  end)
end)

describe("the checkpoint file", function()
  it("is written atomically, records the upload, and is ignored when damaged", function()
    local dir = U.tmpdir()
    local srv = cosd.start { faults = { "op=UploadPart,nth=4,times=100,status=503" } }
    local ckpt = dir .. "/ck"
    local cos = COS.new(srv:client_options { CheckpointDir = ckpt, ChunkRetryTimes = 0 })
    local path = U.random_file(dir .. "/f.bin", 6 * MIB)
    local _, err = cos:sliceUploadFile(U.params("f.bin", { FilePath = path, AsyncLimit = 1 }))
    assert.truthy(err)
    local name = cosd.capture("ls " .. cosd.sh_quote(ckpt)):match("%S+")
    assert.truthy(name and name:match("^cos%-upload%-%x+%.ckpt$"), name)
    local text = U.read(ckpt .. "/" .. name)
    assert.truthy(text:find("^lua%-cos%-checkpoint 1\n"))
    assert.truthy(text:find("\nupload_id " .. err.UploadId .. "\n", 1, true))
    assert.truthy(text:find("\npart_size " .. MIB .. "\n", 1, true))
    assert.truthy(text:find("\npart 3 " .. MIB .. " %22", 1, true))
    assert.falsy(text:find("\npart 4 ", 1, true))
    assert.truthy(text:find("\nend %x+\n$"))
    -- a damaged checkpoint is not trusted: the SDK's fallback still finds the upload by MD5
    U.write(ckpt .. "/" .. name, text:gsub("part 2 ", "part 2  x"))
    U.restart(srv, {})
    local hashed = 0
    local data
    data, err = cos:sliceUploadFile(U.params("f.bin", { FilePath = path,
      onHashProgress = function(p) hashed = math.max(hashed, p.loaded) end }))
    assert.is_nil(err)
    assert.is_true(hashed >= 3 * MIB)
    assert.is_true(U.object_equals_file(cos, "f.bin", path))
    assert.are.equal("", cosd.capture("ls " .. cosd.sh_quote(ckpt)))
    cos:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)
end)
