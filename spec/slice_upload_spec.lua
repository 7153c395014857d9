-- sliceUploadFile against a real cosd: concurrent parts, part sizes, progress, integrity, faults
-- (5xx and connection resets on parts), errors, and in-process resume of the same UploadId.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

describe("sliceUploadFile", function()
  local srv, cos, dir

  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { CheckpointDir = dir .. "/ckpt", ProgressInterval = 50 })
  end)

  teardown(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("uploads a 24 MiB file in 1 MiB parts, concurrently, with the right bytes and Node's result", function()
    local path = U.random_file(dir .. "/a.bin", 24 * MIB)
    local prog, hash, ready = U.progress_recorder(), {}, nil
    local data, err = cos:sliceUploadFile(U.params("dir/a.bin", {
      FilePath = path, AsyncLimit = 4,
      onProgress = prog.fn,
      onHashProgress = function(p) hash[#hash + 1] = p end,
      onTaskReady = function(id) ready = id end }))
    assert.is_nil(err)
    assert.truthy(data.UploadId and #data.UploadId > 0)
    assert.are.equal(200, data.statusCode)
    assert.are.equal(U.BUCKET, data.Bucket)
    assert.are.equal("dir/a.bin", data.Key)
    assert.truthy(data.ETag:match('^".*%-24"$'))
    assert.truthy(data.Location:find("/dir/a.bin", 1, true))
    assert.truthy(data.RequestId)
    assert.is_number(ready)
    -- one hash emission on a fresh upload (the SDK's), progress never backwards, ends at 1
    assert.are.equal(1, #hash)
    assert.are.equal(0, hash[1].loaded)
    assert.is_false(prog.backwards)
    assert.are.equal(1, prog.last().percent)
    assert.are.equal(24 * MIB, prog.last().loaded)
    local puts = U.part_puts(srv, "dir/a.bin")
    assert.are.equal(24, #puts)
    for _, l in ipairs(puts) do assert.are.equal(MIB, l.bytes_in) end
    assert.is_true(U.object_equals_file(cos, "dir/a.bin", path))
    -- the checkpoint is removed after success
    assert.are.equal("", cosd.capture("ls " .. cosd.sh_quote(dir .. "/ckpt") .. " 2>/dev/null"))
  end)

  it("sends parts without Content-MD5 and verifies the ETag and CRC-64 the server returns", function()
    local path = U.random_file(dir .. "/b.bin", 3 * MIB + 17)
    local data, err = cos:sliceUploadFile(U.params("b.bin", { FilePath = path, ChunkSize = MIB }))
    assert.is_nil(err)
    local h = U.head(cos, "b.bin")
    assert.are.equal(data.headers["x-cos-hash-crc64ecma"], h.headers["x-cos-hash-crc64ecma"])
    local sizes = {}
    for _, l in ipairs(U.part_puts(srv, "b.bin")) do sizes[l.part] = l.bytes_in end
    assert.are.same({ MIB, MIB, MIB, 17 }, sizes)
    local parts = 0
    for _, e in ipairs(srv:request_log()) do
      if e.method == "PUT" and e.target:find("^/b%.bin%?partNumber=") then
        parts = parts + 1
        assert.is_nil(e.header["content-md5"], e.target)
      end
    end
    assert.are.equal(4, parts)
    assert.is_true(U.object_equals_file(cos, "b.bin", path))
  end)

  it("adds Content-MD5 to every part with UploadCheckContentMd5 (cosd checks it)", function()
    local c2 = COS.new(srv:client_options { Checkpoint = false, UploadCheckContentMd5 = true })
    local path = U.random_file(dir .. "/md5.bin", 2 * MIB + 100)
    local data, err = c2:sliceUploadFile(U.params("md5.bin", { FilePath = path }))
    assert.is_nil(err)
    assert.truthy(data.ETag)
    assert.is_true(U.object_equals_file(cos, "md5.bin", path))
    c2:close()
  end)

  it("takes the part size from ChunkSize, then SliceSize, and sends parts one at a time with AsyncLimit 1", function()
    local path = U.random_file(dir .. "/c.bin", 5 * MIB)
    assert.is_nil(select(2, cos:sliceUploadFile(U.params("c.bin", { FilePath = path, SliceSize = 2 * MIB, AsyncLimit = 1 }))))
    local sizes, order = {}, {}
    for _, l in ipairs(U.part_puts(srv, "c.bin")) do
      sizes[#sizes + 1] = l.bytes_in
      order[#order + 1] = l.part
    end
    assert.are.same({ 2 * MIB, 2 * MIB, MIB }, sizes)
    assert.are.same({ 1, 2, 3 }, order)
  end)

  it("grows the part size along the SDK's ladder so that MaxPartNumber is not exceeded", function()
    -- 1100 MiB (sparse) with MaxPartNumber 1024: 1 MiB parts would need 1100, so 2 MiB parts.
    local path = dir .. "/sparse.bin"
    assert(cosd.exec("truncate -s 1100M " .. cosd.sh_quote(path)))
    local c2 = COS.new(srv:client_options { MaxPartNumber = 1024, Checkpoint = false })
    local id = c2:sliceUploadFile(U.params("sparse.bin", { FilePath = path, AsyncLimit = 1 }), function() end)
    assert.truthy(U.poll_parts(c2, srv, "sparse.bin", 1, 30))
    assert.is_true(c2:cancelTask(id))
    c2:run()
    assert.are.equal(2 * MIB, U.part_puts(srv, "sparse.bin")[1].bytes_in)
    assert.are.same({}, U.pending_uploads(cos, "sparse.bin"))
    c2:close()
    os.remove(path)
  end)

  it("uploads an empty file with one PUT (the SDK hands it to putObject)", function()
    local path = dir .. "/empty.bin"
    U.write(path, "")
    local data, err = cos:sliceUploadFile(U.params("empty.bin", { FilePath = path }))
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    assert.are.equal("0", U.head(cos, "empty.bin").headers["content-length"])
    assert.are.equal(1, #U.log_matching(srv, "PUT", "^/empty%.bin$"))
  end)

  it("reports a missing file as the raw fs error, through the callback", function()
    local got
    local id = cos:sliceUploadFile(U.params("nope.bin", { FilePath = dir .. "/does-not-exist" }),
      function(err, data) got = { err = err, data = data } end)
    assert.is_number(id)
    cos:run()
    assert.are.equal("ENOENT", got.err.code)
    assert.is_nil(got.data)
  end)

  it("fails with the service error and err.UploadId when the bucket does not exist", function()
    local path = U.random_file(dir .. "/d.bin", 2 * MIB)
    local data, err = cos:sliceUploadFile { Bucket = "nosuchbucket-1250000000", Region = U.REGION, Key = "d.bin", FilePath = path }
    assert.is_nil(data)
    assert.are.equal("NoSuchBucket", err.code)
    assert.are.equal("", err.UploadId)
  end)

  it("validates params synchronously", function()
    local data, err = cos:sliceUploadFile { Bucket = U.BUCKET, Region = U.REGION, Key = "x.bin" }
    assert.is_nil(data)
    assert.truthy(err.message:find("FilePath"))
    data, err = cos:sliceUploadFile { Bucket = U.BUCKET, Region = U.REGION, Key = "dir/", FilePath = "/etc/hostname" }
    assert.is_nil(data)
    assert.truthy(err)
  end)

  it("refuses to complete an object whose file changed under it, and leaves no object", function()
    local path = U.random_file(dir .. "/e.bin", 6 * MIB)
    local got
    cos:sliceUploadFile(U.params("e.bin", { FilePath = path, AsyncLimit = 1 }), function(err, data) got = { err, data } end)
    assert.truthy(U.poll_parts(cos, srv, "e.bin", 1, 20))
    -- same size, new content and mtime
    assert(cosd.exec(("head -c %d /dev/urandom | dd of=%s bs=1M conv=notrunc status=none && touch -d '+1 min' %s")
      :format(MIB, cosd.sh_quote(path), cosd.sh_quote(path))))
    cos:run()
    assert.is_nil(got[2])
    assert.are.equal("FileModified", got[1].code)
    assert.is_nil((U.head(cos, "e.bin")))
  end)
end)

describe("sliceUploadFile part size", function()
  local srv, dir
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
  end)
  teardown(function()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("defaults to 8 MiB parts (not the Node SDK's 1 MiB) and still honours ChunkSize", function()
    local path = U.random_file(dir .. "/d.bin", 20 * MIB)
    local cos = COS.new(srv:client_options { ChunkSize = "default", Checkpoint = false })
    local data, err = cos:sliceUploadFile(U.params("default.bin", { FilePath = path }))
    assert.is_nil(err)
    assert.truthy(data.ETag:match('^".*%-3"$'), data.ETag) -- 8 + 8 + 4 MiB
    assert.are.equal(3, #U.part_puts(srv, "default.bin"))
    data, err = cos:sliceUploadFile(U.params("explicit.bin", { FilePath = path, ChunkSize = 4 * MIB }))
    assert.is_nil(err)
    assert.truthy(data.ETag:match('^".*%-5"$'), data.ETag)
    assert.is_true(U.object_equals_file(cos, "default.bin", path))
    cos:close()
  end)
end)

describe("sliceUploadFile under faults", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  it("survives 5xx replies and connection resets on parts, with the right bytes", function()
    local srv = cosd.start { faults = {
      "op=UploadPart,nth=2,times=3,status=503",
      "op=UploadPart,nth=9,times=2,status=500,code=InternalError",
      "op=UploadPart,nth=14,times=3,reset-after=200000",
    } }
    local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 8 })
    local path = U.random_file(dir .. "/f.bin", 20 * MIB)
    local prog = U.progress_recorder()
    local data, err = cos:sliceUploadFile(U.params("f.bin", { FilePath = path, onProgress = prog.fn }))
    assert.is_nil(err, err and err.message)
    assert.truthy(data.ETag)
    local by_status = {}
    for _, l in ipairs(U.part_puts(srv, "f.bin")) do by_status[l.status] = (by_status[l.status] or 0) + 1 end
    assert.are.equal(20, by_status[200])
    assert.are.equal(3, by_status[503])
    assert.are.equal(2, by_status[500])
    assert.is_true((by_status[0] or 0) + (by_status[400] or 0) >= 1) -- the resets
    assert.is_false(prog.backwards)
    assert.are.equal(1, prog.last().percent)
    assert.is_true(U.object_equals_file(cos, "f.bin", path))
    cos:close()
    U.shutdown(srv)
  end)

  it("fails after ChunkRetryTimes, keeps the upload, and a new call in the same process resumes it", function()
    local srv = cosd.start { faults = { "op=UploadPart,nth=6,times=100,status=503" } }
    local cos = COS.new(srv:client_options { CheckpointDir = dir .. "/ck2", ChunkRetryTimes = 1 })
    local path = U.random_file(dir .. "/g.bin", 12 * MIB)
    local data, err = cos:sliceUploadFile(U.params("g.bin", { FilePath = path, AsyncLimit = 1 }))
    assert.is_nil(data)
    assert.are.equal(503, err.statusCode)
    assert.truthy(#err.UploadId > 0)
    local failed_id = err.UploadId
    -- part 6 was tried twice (ChunkRetryTimes 1), then the upload stopped
    local tries = 0
    for _, l in ipairs(U.part_puts(srv, "g.bin")) do if l.part == 6 then tries = tries + 1 end end
    assert.are.equal(2, tries)
    U.restart(srv, {})
    local before = #U.access_log(srv)
    data, err = cos:sliceUploadFile(U.params("g.bin", { FilePath = path }))
    assert.is_nil(err)
    assert.are.equal(failed_id, data.UploadId)
    local twice = U.parts_sent_twice(srv, "g.bin")
    assert.are.same({}, twice)
    local log = U.access_log(srv)
    for i = before + 1, #log do
      assert.falsy(log[i].target:find("?uploads", 1, true) and log[i].method == "POST")
    end
    assert.is_true(U.object_equals_file(cos, "g.bin", path))
    cos:close()
    U.shutdown(srv)
  end)
end)

-- cosd damaging what it reports (fault injection): the ETag of part 2, the object's CRC-64 at
-- Complete, or Complete's answer lost after the object was committed.
local function integrity_server(fault)
  local srv = cosd.start { faults = { fault } }
  local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 2 })
  return srv, cos
end

local function part_tries(srv, key, n)
  local tries = 0
  for _, l in ipairs(U.part_puts(srv, key)) do if l.part == n then tries = tries + 1 end end
  return tries
end

describe("sliceUploadFile integrity", function()
  local dir, path
  setup(function()
    dir = U.tmpdir()
    path = U.random_file(dir .. "/i.bin", 3 * MIB)
  end)
  teardown(function() U.rmdir(dir) end)

  -- The default check is CRC-64 (no MD5 is computed): a part answered with another
  -- x-cos-hash-crc64ecma than the bytes sent was damaged on the way and is sent again.
  it("sends a part again when its CRC-64 is not the one of the bytes sent (MD5 off)", function()
    local srv, cos = integrity_server("op=UploadPart,part=2,times=1,crc64=12345")
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path }))
    assert.is_nil(err, err and err.message)
    assert.truthy(data)
    assert.are.equal(2, part_tries(srv, "i.bin", 2))
    assert.are.equal(1, part_tries(srv, "i.bin", 1))
    assert.is_true(U.object_equals_file(cos, "i.bin", path))
  end)

  it("fails with IntegrityError, and never completes, when a part's CRC-64 keeps mismatching", function()
    local srv, cos = integrity_server("op=UploadPart,part=2,crc64=12345")
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path }))
    assert.is_nil(data)
    assert.are.equal("IntegrityError", err.code)
    assert.truthy(err.message:find("part 2", 1, true), err.message)
    assert.truthy(err.message:find("x-cos-hash-crc64ecma 12345", 1, true), err.message)
    assert.are.equal(4, part_tries(srv, "i.bin", 2)) -- sent again ChunkRetryTimes + 1 times
    assert.are.equal(0, #U.log_matching(srv, "POST", "uploadId="))
  end)

  -- With MD5 off the ETag is not hashed by us: a part's ETag the server altered is still never
  -- part of an object, because Complete lists the parts by that ETag and the server refuses it.
  it("with MD5 off, a part's wrong ETag makes Complete fail: no object is created", function()
    local srv, cos = integrity_server("op=UploadPart,part=2,etag=bogus")
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path }))
    assert.is_nil(data)
    assert.are.equal("InvalidPart", err.code)
    assert.are.equal(1, part_tries(srv, "i.bin", 2))
    local _, herr = U.head(cos, "i.bin")
    assert.are.equal(404, herr.statusCode)
  end)

  -- A server that sends no x-cos-hash-crc64ecma: the first such answer is not taken (nothing of
  -- ours checks its ETag); that part is sent again while hashing MD5, and from then on the client
  -- hashes MD5 for every upload and checks each ETag, so a wrong ETag is caught and re-sent.
  it("against a server without CRC-64, checks every part by ETag (the first one is sent again)", function()
    local srv = cosd.start { faults = { "op=UploadPart,part=3,times=1,no-crc64,etag=bogus", "op=UploadPart,no-crc64" } }
    local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 2 })
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path, AsyncLimit = 1 }))
    assert.is_nil(err, err and err.message)
    assert.truthy(data)
    assert.are.equal(2, part_tries(srv, "i.bin", 1)) -- the first answer without CRC-64: sent again, MD5 on
    assert.are.equal(1, part_tries(srv, "i.bin", 2))
    assert.are.equal(2, part_tries(srv, "i.bin", 3)) -- its wrong ETag was caught by MD5
    assert.is_true(U.object_equals_file(cos, "i.bin", path))
    -- the client keeps hashing MD5: a later upload's first part is not sent twice
    data, err = cos:sliceUploadFile(U.params("j.bin", { FilePath = path, AsyncLimit = 1 }))
    assert.is_nil(err, err and err.message)
    assert.are.equal(1, part_tries(srv, "j.bin", 1))
  end)

  it("against a server without CRC-64, a part whose ETag keeps mismatching fails with IntegrityError", function()
    local srv = cosd.start { faults = { "op=UploadPart,part=2,no-crc64,etag=bogus", "op=UploadPart,no-crc64" } }
    local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 2 })
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path, AsyncLimit = 1 }))
    assert.is_nil(data)
    assert.are.equal("IntegrityError", err.code)
    assert.truthy(err.message:find("part 2: ETag", 1, true), err.message)
    assert.are.equal(0, #U.log_matching(srv, "POST", "uploadId="))
  end)

  it("UploadCheckContentMd5: every part carries a Content-MD5 the server checks and accepts", function()
    local srv = cosd.start {}
    local cos = COS.new(srv:client_options { Checkpoint = false, UploadCheckContentMd5 = true })
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("m.bin", { FilePath = path, ChunkSize = MIB }))
    assert.is_nil(err, err and err.message)
    assert.truthy(data)
    assert.is_true(U.object_equals_file(cos, "m.bin", path))
    local sent = {}
    for _, e in ipairs(srv:request_log()) do
      local n = e.target:match("^/m%.bin%?partNumber=(%d+)")
      if n and e.method == "PUT" then sent[tonumber(n)] = e.header["content-md5"] end
    end
    for n = 1, 3 do
      local want = cosd.capture(("dd if=%s bs=%d skip=%d count=1 2>/dev/null | openssl md5 -binary | base64")
        :format(cosd.sh_quote(path), MIB, n - 1)):gsub("%s+$", "")
      assert.are.equal(want, sent[n])
    end
  end)

  it("succeeds when Complete's answer was lost and the object is there with the parts' CRC-64", function()
    local small = U.random_file(dir .. "/lost.bin", 2 * MIB + 10)
    local srv, cos = integrity_server("op=CompleteMultipartUpload,nth=1,drop-response")
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("lost.bin", { FilePath = small }))
    assert.is_nil(err, err and err.message)
    local completes = U.log_matching(srv, "POST", "uploadId=")
    assert.are.equal(2, #completes)
    assert.are.equal(0, completes[1].status)   -- performed, answer dropped
    assert.are.equal(404, completes[2].status) -- NoSuchUpload: the upload is gone
    assert.are.equal(1, #U.log_matching(srv, "HEAD", "^/lost%.bin$"))
    local h = U.head(cos, "lost.bin")
    assert.truthy(data.ETag:match('^".*%-3"$'), data.ETag)
    assert.are.equal(h.headers.etag, data.ETag)
    assert.is_true(U.object_equals_file(cos, "lost.bin", small))
  end)

  it("fails with IntegrityError when Complete's x-cos-hash-crc64ecma is not the parts' CRC-64", function()
    local srv, cos = integrity_server("op=CompleteMultipartUpload,crc64=12345")
    finally(function() cos:close(); U.shutdown(srv) end)
    local data, err = cos:sliceUploadFile(U.params("i.bin", { FilePath = path }))
    assert.is_nil(data)
    assert.are.equal("IntegrityError", err.code)
    assert.truthy(err.message:find("x-cos-hash-crc64ecma 12345", 1, true), err.message)
  end)
end)

-- Whole-file hashing (UploadAddMetaMd5) and resume hashing run in slices, a part of every
-- cos:poll step: a pause or cancel in the middle acts at once.
describe("sliceUploadFile hashing in slices", function()
  local srv, cos, dir, path
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 0 })
    path = U.random_file(dir .. "/h.bin", 24 * MIB)
  end)
  teardown(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  local function start(key, on_first_hash)
    return U.hashing_upload(cos, "sliceUploadFile", U.params(key, { FilePath = path, UploadAddMetaMd5 = true }),
      on_first_hash)
  end

  it("a pause while the file is hashed stops the hashing at once; restart uploads with x-cos-meta-md5", function()
    local st = start("hp.bin", function(s) assert.is_true(cos:pauseTask(s.id)) end)
    cos:run()
    assert.is_nil(st.done)
    assert.are.equal("paused", U.state(cos, st.id))
    assert.are.equal(st.acted, #st.hashes) -- no hashing after the pause
    assert.is_true(st.hashes[#st.hashes] < 24 * MIB)
    assert.are.equal(0, #U.log_matching(srv, "POST", "uploads"))
    assert.is_true(cos:restartTask(st.id))
    cos:run()
    assert.is_nil(st.err, st.err and st.err.message)
    assert.are.equal(U.md5_file(path), U.head(cos, "hp.bin").headers["x-cos-meta-md5"])
    assert.is_true(U.object_equals_file(cos, "hp.bin", path))
  end)

  it("a cancel while the file is hashed ends the task at once, before any request", function()
    local st = start("hc.bin", function(s) assert.is_true(cos:cancelTask(s.id)) end)
    cos:run()
    assert.is_true(st.done)
    assert.truthy(st.err)
    assert.are.equal(st.acted, #st.hashes)
    assert.are.equal(0, #U.log_matching(srv, "POST", "hc%.bin%?uploads"))
    local _, herr = U.head(cos, "hc.bin")
    assert.are.equal(404, herr.statusCode)
  end)
end)
