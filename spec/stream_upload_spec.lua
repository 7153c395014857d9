-- Multipart uploads from streams of unknown length: sliceUploadFile / uploadFile with a Body that
-- is an io handle (a pipe from io.popen) or a Lua reader function. Every object is fetched back
-- and compared with the bytes the stream produced; the parts are counted in cosd's access log.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

-- A deterministic byte source: `total` bytes cut into chunks whose sizes cycle through `sizes`,
-- recorded in a file (for the comparison) as they are handed out.
local function reader(path, total, sizes)
  local out = assert(io.open(path, "wb"))
  local block = {}
  for i = 0, 255 do block[#block + 1] = string.char((i * 37 + 11) % 256) end
  block = table.concat(block):rep(4 * 4096) -- 4 MiB of a pattern
  local given, i, pos = 0, 0, 0
  return function()
    if given >= total then
      if out then out:close(); out = nil end
      return nil
    end
    i = i + 1
    local n = math.min(sizes[(i - 1) % #sizes + 1], total - given)
    local s = ""
    while #s < n do
      local take = math.min(n - #s, #block - pos)
      s = s .. block:sub(pos + 1, pos + take)
      pos = (pos + take) % #block
    end
    given = given + n
    out:write(s)
    return s
  end
end

local function count_parts(srv, key)
  local ok = {}
  for _, l in ipairs(U.part_puts(srv, key)) do
    if l.status == 200 then ok[l.part] = (ok[l.part] or 0) + 1 end
  end
  local n = 0
  for _ in pairs(ok) do n = n + 1 end
  return n, ok
end

local function puts_of(srv, key)
  return U.log_matching(srv, "PUT", "^/" .. key:gsub("%p", "%%%0") .. "$")
end

describe("stream uploads", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open { ChunkSize = MIB, ProgressInterval = 0 } end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("uploads 100 MiB from an io.popen pipe with multipart, bytes intact, progress forward", function()
    local src = U.random_file(dir .. "/pipe.src", 100 * MIB)
    local pipe = assert(io.popen("cat " .. cosd.sh_quote(src), "r"))
    local rec = U.progress_recorder()
    local data, err = cos:sliceUploadFile(U.params("stream/pipe.bin", { Body = pipe, ChunkSize = 8 * MIB,
      onProgress = rec.fn }))
    pipe:close()
    assert.is_nil(err)
    assert.is_truthy(data.ETag)
    assert.is_truthy(data.UploadId)
    assert.is_true((U.object_equals_file(cos, "stream/pipe.bin", src)))
    assert.equal(13, (count_parts(srv, "stream/pipe.bin"))) -- 12 x 8 MiB + 4 MiB
    assert.is_false(rec.backwards)
    -- total is unknown until the stream ends; the last emission is complete
    assert.is_nil(rec.events[1].total)
    assert.equal(0, rec.events[1].percent)
    assert.same({ loaded = 100 * MIB, total = 100 * MIB, percent = 1 },
      { loaded = rec.last().loaded, total = rec.last().total, percent = rec.last().percent })
  end)

  it("takes a reader function with chunks of 1 byte, 7 bytes and 3 MiB", function()
    local copy = dir .. "/odd.src"
    local data, err = cos:sliceUploadFile(U.params("stream/odd.bin", {
      Body = reader(copy, 10 * MIB + 12345, { 1, 7, 3 * MIB, 1, 1, 7 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.ETag)
    assert.is_true((U.object_equals_file(cos, "stream/odd.bin", copy)))
    assert.equal(11, (count_parts(srv, "stream/odd.bin")))
  end)

  it("a reader may answer false (nothing yet) and is asked again in a later step", function()
    local copy = assert(io.open(dir .. "/false.src", "wb"))
    local n, falses = 0, 0
    local data, err = cos:sliceUploadFile(U.params("stream/false.bin", { Body = function()
      n = n + 1
      if n % 2 == 1 and n < 200 then falses = falses + 1; return false end
      if n >= 200 then copy:close(); return nil end
      local s = string.char(n % 256):rep(30000)
      copy:write(s)
      return s
    end }))
    assert.is_nil(err)
    assert.is_truthy(data.UploadId)
    assert.equal(100, falses)
    assert.is_true((U.object_equals_file(cos, "stream/false.bin", dir .. "/false.src")))
  end)

  it("uploads an empty stream as one empty PUT (sliceUploadFile and uploadFile)", function()
    for _, op in ipairs { "sliceUploadFile", "uploadFile" } do
      local key = "stream/empty-" .. op
      local data, err = cos[op](cos, U.params(key, { Body = function() return nil end }))
      assert.is_nil(err)
      assert.equal(200, data.statusCode)
      local head = assert(U.head(cos, key))
      assert.equal("0", head.headers["content-length"])
      assert.equal(1, #puts_of(srv, key))
      assert.equal(0, (count_parts(srv, key)))
    end
  end)

  it("sends a stream of exactly N x ChunkSize as N parts", function()
    local copy = dir .. "/exact.src"
    local data, err = cos:sliceUploadFile(U.params("stream/exact.bin", { Body = reader(copy, 3 * MIB, { 65536 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.ETag)
    assert.equal(3, (count_parts(srv, "stream/exact.bin")))
    assert.is_true((U.object_equals_file(cos, "stream/exact.bin", copy)))
  end)

  it("uploadFile: a stream within SliceSize is one PUT, a longer one goes multipart", function()
    local small = dir .. "/small.src"
    local data, err = cos:uploadFile(U.params("stream/small.bin", { Body = reader(small, 1000, { 300 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.ETag)
    assert.equal(1, #puts_of(srv, "stream/small.bin"))
    assert.is_true((U.object_equals_file(cos, "stream/small.bin", small)))
    local big = dir .. "/big.src"
    local finished
    data, err = cos:uploadFile(U.params("stream/big.bin", { Body = reader(big, 2 * MIB + 1, { 100000 }),
      onFileFinish = function(e, d) finished = { e, d } end }))
    assert.is_nil(err)
    assert.is_truthy(finished and finished[2])
    assert.equal(3, (count_parts(srv, "stream/big.bin")))
    assert.is_true((U.object_equals_file(cos, "stream/big.bin", big)))
  end)

  it("a reader that raises fails the upload (re-raised by the call) and leaves no upload", function()
    local function raiser()
      local n = 0
      return function()
        n = n + 1
        if n > 40 then error("disk on fire") end
        return ("x"):rep(65536)
      end
    end
    local ok, e = pcall(cos.sliceUploadFile, cos, U.params("stream/raise.bin", { Body = raiser() }))
    assert.is_false(ok)
    assert.matches("disk on fire", tostring(e))
    -- the call raised as soon as the reader did; the abort of the upload goes on in later steps
    assert.is_truthy(U.poll_until(cos, function() return #U.pending_uploads(cos, "stream/raise.bin") == 0 end))
    -- with a callback: it gets the CallbackError; the error value comes out of poll once
    local got
    cos:sliceUploadFile(U.params("stream/raise2.bin", { Body = raiser() }), function(err) got = err end)
    local raised
    while not got do
      local pok, perr = pcall(cos.poll, cos, 10)
      if not pok then raised = perr end
    end
    assert.matches("disk on fire", tostring(raised))
    assert.equal("CallbackError", got.code)
    assert.matches("disk on fire", got.message)
    assert.same({}, U.pending_uploads(cos, "stream/raise2.bin"))
    -- a wrong return type is the same kind of failure
    ok, e = pcall(cos.sliceUploadFile, cos, U.params("stream/raise3.bin", { Body = function() return 42 end }))
    assert.is_false(ok)
    assert.matches("string, nil or false", tostring(e))
  end)

  it("checks ContentLength: a shorter (or longer) stream fails and its upload is aborted", function()
    local data, err = cos:sliceUploadFile(U.params("stream/short.bin", { ContentLength = 3 * MIB,
      Body = reader(dir .. "/short.src", 2 * MIB + 5, { 65536 }) }))
    assert.is_nil(data)
    assert.equal("EntitySizeNotMatch", err.code)
    data, err = cos:sliceUploadFile(U.params("stream/long.bin", { ContentLength = 2 * MIB,
      Body = reader(dir .. "/long.src", 3 * MIB, { 65536 }) }))
    assert.is_nil(data)
    assert.equal("EntitySizeNotMatch", err.code)
    U.settle(srv)
    assert.same({}, U.pending_uploads(cos, "stream/short.bin"))
    assert.same({}, U.pending_uploads(cos, "stream/long.bin"))
    assert.is_nil((U.head(cos, "stream/short.bin")))
    -- the right length succeeds
    data, err = cos:sliceUploadFile(U.params("stream/right.bin", { ContentLength = 2 * MIB,
      Body = reader(dir .. "/right.src", 2 * MIB, { 65536 }) }))
    assert.is_nil(err)
    assert.is_true((U.object_equals_file(cos, "stream/right.bin", dir .. "/right.src")))
  end)

  it("refuses what would resume: UploadId, CheckpointDir, Checkpoint = true", function()
    for _, extra in ipairs { { UploadId = "abc" }, { CheckpointDir = dir }, { Checkpoint = true } } do
      extra.Body = function() return nil end
      local data, err = cos:sliceUploadFile(U.params("stream/resume.bin", extra))
      assert.is_nil(data)
      assert.matches("cannot be resumed", err.message)
      assert.is_truthy(err.param)
    end
  end)

  it("cancel mid-stream aborts the multipart upload on the server", function()
    local key = "stream/cancel.bin"
    local got
    local id = cos:sliceUploadFile(U.params(key, { Body = function() return ("c"):rep(65536) end }),
      function(e, d) got = { e, d } end)
    assert.is_truthy(U.poll_parts(cos, srv, key, 3))
    assert.is_true(cos:cancelTask(id))
    assert.is_truthy(U.poll_until(cos, function() return got end))
    assert.equal("TaskCanceled", got[1].code)
    U.settle(srv)
    assert.same({}, U.pending_uploads(cos, key))
  end)

  it("waits for a quiet pipe without blocking poll: the writer is this very process", function()
    -- A FIFO opened read-write (Linux: never blocks) is the writer; the Body reads the other end.
    -- If a poll step blocked reading the empty pipe, nothing would ever write to it again.
    local fifo = dir .. "/fifo"
    assert(cosd.exec("mkfifo " .. cosd.sh_quote(fifo)))
    local w = assert(io.open(fifo, "r+b"))
    w:setvbuf("no")
    local r = assert(io.open(fifo, "rb"))
    local key, got = "stream/fifo.bin", nil
    local copy = assert(io.open(dir .. "/fifo.src", "wb"))
    -- 16 KiB at a time, each drained by one poll step (a part buffer is always free here)
    local function put(n, c)
      for _ = 1, math.floor(n / 16384) do
        local s = c:rep(16384)
        copy:write(s)
        w:write(s)
        cos:poll(0)
      end
    end
    local id = cos:sliceUploadFile(U.params(key, { Body = r }), function(e, d) got = { e, d } end)
    put(MIB + 16384, "a")
    assert.is_truthy(U.poll_parts(cos, srv, key, 1))
    for _ = 1, 50 do cos:poll(0) end -- the pipe is empty and open: each step must return
    assert.equal("uploading", U.state(cos, id))
    put(MIB, "b")
    copy:close()
    w:close()
    assert.is_truthy(U.poll_until(cos, function() return got end, 60))
    r:close()
    assert.is_nil(got[1])
    assert.is_true((U.object_equals_file(cos, key, dir .. "/fifo.src")))
    assert.equal(3, (count_parts(srv, key)))
  end)

  it("fails with EBODYREAD when the io handle is closed during the upload", function()
    local fifo = dir .. "/fifo2"
    assert(cosd.exec("mkfifo " .. cosd.sh_quote(fifo)))
    local w = assert(io.open(fifo, "r+b"))
    w:setvbuf("no")
    local r = assert(io.open(fifo, "rb"))
    local got
    cos:sliceUploadFile(U.params("stream/closed.bin", { Body = r }), function(e, d) got = { e, d } end)
    w:write(("z"):rep(16384))
    for _ = 1, 5 do cos:poll(0) end
    r:close()
    assert.is_truthy(U.poll_until(cos, function() return got end))
    w:close()
    assert.equal("EBODYREAD", got[1].code)
    assert.matches("closed", got[1].message)
    assert.same({}, U.pending_uploads(cos, "stream/closed.bin"))
  end)

  it("UploadAddMetaMd5 sends the stream's MD5 with Complete", function()
    local copy = dir .. "/md5.src"
    local data, err = cos:sliceUploadFile(U.params("stream/md5.bin", { UploadAddMetaMd5 = true,
      Body = reader(copy, 2 * MIB + 1, { 70000 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.UploadId)
    local head = assert(U.head(cos, "stream/md5.bin"))
    assert.equal(U.md5_file(copy), head.headers["x-cos-meta-md5"])
  end)

  it("pause and restart continue the same upload from the held buffers", function()
    local key = "stream/pause.bin"
    local copy = dir .. "/pause.src"
    local got
    local id = cos:sliceUploadFile(U.params(key, { Body = reader(copy, 12 * MIB, { 100000 }) }),
      function(e, d) got = { e, d } end)
    assert.is_truthy(U.poll_parts(cos, srv, key, 2))
    assert.is_true(cos:pauseTask(id))
    assert.equal("paused", U.state(cos, id))
    for _ = 1, 5 do cos:poll(10) end
    assert.is_true(cos:restartTask(id))
    assert.is_truthy(U.poll_until(cos, function() return got end, 60))
    assert.is_nil(got[1])
    assert.is_true((U.object_equals_file(cos, key, copy)))
  end)

  it("refuses restartTask after an error: the stream is gone", function()
    local got
    local id = cos:sliceUploadFile(U.params("stream/err.bin", { ContentLength = 10,
      Body = function() return nil end }), function(e) got = e end)
    assert.is_truthy(U.poll_until(cos, function() return got end))
    assert.equal("error", U.state(cos, id))
    assert.is_false(cos:restartTask(id))
  end)
end)

describe("stream part sizes", function()
  local srv, cos, dir

  setup(function()
    srv, cos, dir = cosd.open { ChunkSize = MIB, MaxPartNumber = 1024, ChunkParallelLimit = 4 }
  end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("grow for an unknown length: MaxPartNumber/10 parts of ChunkSize, then doubling every MaxPartNumber/100", function()
    -- 1024 parts at most: 102 parts of 1 MiB, then 10 of 2 MiB, then 4 MiB...
    local key, total = "stream/grow.bin", 102 * MIB + 10 * 2 * MIB + 3 * MIB
    local data, err = cos:sliceUploadFile(U.params(key, { Body = reader(dir .. "/grow.src", total, { 1000000 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.UploadId)
    local size = {}
    for _, l in ipairs(U.part_puts(srv, key)) do
      if l.status == 200 then size[l.part] = l.bytes_in end
    end
    assert.equal(113, #size)
    for n = 1, 102 do assert.equal(MIB, size[n], "part " .. n) end
    for n = 103, 112 do assert.equal(2 * MIB, size[n], "part " .. n) end
    assert.equal(3 * MIB, size[113])
    assert.is_true((U.object_equals_file(cos, key, dir .. "/grow.src")))
  end)

  it("with ContentLength, take the size a file of that length gets", function()
    local key, total = "stream/known.bin", 5 * MIB + 1
    local data, err = cos:sliceUploadFile(U.params(key, { ContentLength = total, ChunkSize = 2 * MIB,
      Body = reader(dir .. "/known.src", total, { 65536 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.UploadId)
    assert.equal(3, (count_parts(srv, key)))
  end)
end)

describe("stream uploads under faults", function()
  local srv, cos, dir

  setup(function()
    srv, cos, dir = nil, nil, U.tmpdir()
    srv = cosd.start { faults = {
      "op=UploadPart,part=2,times=1,status=500",
      "op=UploadPart,part=3,times=1,reset-after=100000",
      "op=UploadPart,part=4,times=1,crc64=12345",
    } }
    cos = COS.new(srv:client_options { ChunkSize = MIB })
  end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("resends the buffered parts (5xx, reset, wrong CRC-64) and the object is right", function()
    local copy = dir .. "/fault.src"
    local data, err = cos:sliceUploadFile(U.params("stream/fault.bin", { Body = reader(copy, 6 * MIB + 7, { 131072 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.ETag)
    assert.is_true((U.object_equals_file(cos, "stream/fault.bin", copy)))
    local tries = {}
    for _, l in ipairs(U.part_puts(srv, "stream/fault.bin")) do tries[l.part] = (tries[l.part] or 0) + 1 end
    for part = 2, 4 do assert.equal(2, tries[part], "part " .. part) end
    assert.equal(1, tries[1])
  end)

  -- The integrity policy is the file parts' one: with MD5 off, a part's ETag is not ours to
  -- check, and a wrong one makes Complete fail (no object, the upload aborted).
  it("with MD5 off, a part's wrong ETag makes Complete fail: no object, no upload left", function()
    local s2 = cosd.start { faults = { "op=UploadPart,part=2,times=1,etag=bogus" } }
    local c2 = COS.new(s2:client_options { ChunkSize = MIB })
    finally(function() cosd.close(s2, c2) end)
    local data, err = c2:sliceUploadFile(U.params("stream/etag.bin", { Body = reader(dir .. "/etag.src", 3 * MIB + 7, { 131072 }) }))
    assert.is_nil(data)
    assert.equal("InvalidPart", err.code)
    local _, herr = U.head(c2, "stream/etag.bin")
    assert.equal(404, herr.statusCode)
    assert.is_truthy(U.poll_until(c2, function() return #U.pending_uploads(c2, "stream/etag.bin") == 0 end))
  end)

  -- Complete and what follows it are the file upload's (upload/parts.c): an answer without
  -- CRC-64 is checked by a HEAD of the object; a lost answer is found by a HEAD after NoSuchUpload.
  local function heads(s) return #U.log_matching(s, "HEAD", "^/stream/") end

  it("checks a Complete answered without CRC-64 by a HEAD of the object", function()
    local s2 = cosd.start { faults = { "op=CompleteMultipartUpload,no-crc64" } }
    local c2 = COS.new(s2:client_options { ChunkSize = MIB })
    finally(function() cosd.close(s2, c2) end)
    local copy = dir .. "/nocrc.src"
    local data, err = c2:sliceUploadFile(U.params("stream/nocrc.bin", { Body = reader(copy, 2 * MIB + 7, { 131072 }) }))
    assert.is_nil(err)
    assert.is_truthy(data.UploadId)
    assert.equal(1, heads(s2))
    assert.is_true((U.object_equals_file(c2, "stream/nocrc.bin", copy)))
  end)

  it("fails UnverifiedUpload when neither Complete nor a HEAD gives a CRC-64, and leaves no upload", function()
    local s2 = cosd.start { faults = { "op=CompleteMultipartUpload,no-crc64", "op=HeadObject,no-crc64" } }
    local c2 = COS.new(s2:client_options { ChunkSize = MIB })
    finally(function() cosd.close(s2, c2) end)
    local data, err = c2:sliceUploadFile(U.params("stream/unverified.bin", { Body = reader(dir .. "/unv.src", 2 * MIB + 7, { 131072 }) }))
    assert.is_nil(data)
    assert.equal("UnverifiedUpload", err.code)
    assert.truthy(err.message:find("could not be verified", 1, true))
  end)

  it("succeeds when Complete's answer was lost and the retry finds NoSuchUpload (a HEAD finds the object)", function()
    local s2 = cosd.start { faults = { "op=CompleteMultipartUpload,nth=1,drop-response" } }
    local c2 = COS.new(s2:client_options { ChunkSize = MIB, RetryTimes = 0 })
    finally(function() cosd.close(s2, c2) end)
    local copy = dir .. "/lost.src"
    local data, err = c2:sliceUploadFile(U.params("stream/lost.bin", { Body = reader(copy, 2 * MIB + 7, { 131072 }) }))
    assert.is_nil(err)
    assert.equal(1, heads(s2))
    assert.is_truthy(data.ETag ~= "")
    assert.is_true((U.object_equals_file(c2, "stream/lost.bin", copy)))
  end)
end)
