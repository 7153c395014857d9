-- One rule per upload parameter, the same on every upload path: UploadAddMetaMd5 (a boolean
-- param, read by one truthiness rule), an answer without an ETag (a part and a whole-file PUT),
-- UploadCheckContentMd5 (Content-MD5 on every body whose bytes are known before sending), and the
-- one shape of an error from a failed system call. Every case runs against a real cosd; what was
-- sent is read from its request log.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

local function count(srv, method, pattern)
  local n = 0
  for _, l in ipairs(U.access_log(srv)) do
    if l.method == method and l.target:find(pattern) then n = n + 1 end
  end
  return n
end

-- A reader function body (a stream of unknown length) of `total` bytes, also written to `copy`.
local function stream(copy, total)
  local f = assert(io.open(copy, "rb"))
  local data = f:read("*a")
  f:close()
  assert(#data == total)
  local pos = 0
  return function()
    if pos >= #data then return nil end
    local s = data:sub(pos + 1, pos + 100000)
    pos = pos + #s
    return s
  end
end

describe("UploadAddMetaMd5", function()
  local srv, cos, dir, small, big
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false })
    small = U.random_file(dir .. "/small.bin", 1000)
    big = U.random_file(dir .. "/big.bin", 2 * MIB + 5)
  end)
  teardown(function()
    cos:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  -- Every upload path that reads the param: putObject (string and file), uploadFile's whole-file
  -- PUT (file and string) and its multipart path, sliceUploadFile, a stream (sliceUploadFile with a
  -- reader), uploadFiles' entries.
  local function upload_all(tag, value)
    local md5s = {}
    local function up(name, fn, path, extra)
      local key = tag .. "/" .. name
      local p = U.params(key, { UploadAddMetaMd5 = value })
      for k, v in pairs(extra or {}) do p[k] = v end
      local data, err = fn(p)
      assert.is_nil(err, err and (name .. ": " .. tostring(err.message)))
      assert.truthy(data)
      md5s[key] = U.md5_file(path)
    end
    local text = U.read(small)
    up("put-string", function(p) p.Body = text; return cos:putObject(p) end, small)
    up("put-file", function(p) p.FilePath = small; return cos:putObject(p) end, small)
    up("file-string", function(p) p.Body = text; return cos:uploadFile(p) end, small)
    up("file-put", function(p) p.FilePath = small; return cos:uploadFile(p) end, small)
    up("file-multipart", function(p) p.FilePath = big; p.SliceSize = MIB; return cos:uploadFile(p) end, big)
    up("slice", function(p) p.FilePath = big; return cos:sliceUploadFile(p) end, big)
    up("slice-small", function(p) p.FilePath = small; return cos:sliceUploadFile(p) end, small)
    up("stream", function(p) p.Body = stream(big, 2 * MIB + 5); return cos:sliceUploadFile(p) end, big)
    up("stream-put", function(p) p.Body = stream(small, 1000); return cos:uploadFile(p) end, small)
    local data, err = cos:uploadFiles { files = {
      U.params(tag .. "/files-put", { FilePath = small, UploadAddMetaMd5 = value }),
      U.params(tag .. "/files-multipart", { FilePath = big, SliceSize = MIB, UploadAddMetaMd5 = value }) } }
    assert.is_nil(err)
    for _, f in ipairs(data.files) do assert.is_nil(f.error) end
    md5s[tag .. "/files-put"], md5s[tag .. "/files-multipart"] = U.md5_file(small), U.md5_file(big)
    return md5s
  end

  for _, value in ipairs({ true, "true" }) do
    it(("%s (%s) stores x-cos-meta-md5 on every path"):format(tostring(value), type(value)), function()
      local tag = "on-" .. type(value)
      for key, md5 in pairs(upload_all(tag, value)) do
        assert.are.equal(md5, U.head(cos, key).headers["x-cos-meta-md5"], key)
      end
    end)
  end

  for _, value in ipairs({ false, "false" }) do
    it(("%s (%s) stores none on any path"):format(tostring(value), type(value)), function()
      local tag = "off-" .. type(value)
      for key in pairs(upload_all(tag, value)) do
        local head = assert(U.head(cos, key))
        assert.is_nil(head.headers["x-cos-meta-md5"], key)
      end
    end)
  end

  it("any other value is refused naming the param, before anything is sent", function()
    local before = #U.access_log(srv)
    for _, value in ipairs({ "yes", "True", "", "0", 1, 0, {} }) do
      for _, call in ipairs({
        function(p) p.FilePath = small; return cos:uploadFile(p) end,
        function(p) p.FilePath = big; return cos:sliceUploadFile(p) end,
        function(p) p.Body = stream(small, 1000); return cos:sliceUploadFile(p) end,
        function(p) p.Body = "x"; return cos:putObject(p) end,
      }) do
        local data, err = call(U.params("refused.bin", { UploadAddMetaMd5 = value }))
        assert.is_nil(data)
        assert.are.equal("Error", err.code)
        assert.are.equal("UploadAddMetaMd5", err.param)
        assert.truthy(err.message:find("must be a boolean", 1, true), err.message)
      end
    end
    local _, err = cos:uploadFiles { files = { U.params("refused.bin", { FilePath = small, UploadAddMetaMd5 = "no" }) } }
    assert.are.equal("UploadAddMetaMd5", err.param)
    assert.truthy(err.message:find("files[1]: ", 1, true), err.message)
    -- putObject with a function body: its MD5 is not known before the header goes out
    local given = false
    local _, perr = cos:putObject(U.params("refused.bin", { UploadAddMetaMd5 = true, ContentLength = 1,
      Body = function() if given then return nil end given = true return "x" end }))
    assert.are.equal("UploadAddMetaMd5", perr.param)
    assert.are.equal(before, #U.access_log(srv))
  end)

  it("Checkpoint (a param) follows the same rule", function()
    local _, err = cos:sliceUploadFile(U.params("cp.bin", { FilePath = big, Checkpoint = "off" }))
    assert.are.equal("Checkpoint", err.param)
    assert(cos:sliceUploadFile(U.params("cp.bin", { FilePath = big, Checkpoint = "false" })))
  end)
end)

-- An upload answer without an ETag: a matching CRC-64 vouches for the bytes alone (a PUT succeeds
-- with ETag ""); a part also needs its ETag, as Complete names parts by it, so that part is sent
-- again (bounded); with neither ETag nor CRC-64 nothing vouches: UnverifiedUpload at once, for a
-- part as for a PUT (the same server would answer the same again).
describe("an upload answer without an ETag", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  local function with_server(faults, fn)
    local srv = cosd.start { faults = faults }
    local cos = COS.new(srv:client_options { Checkpoint = false, ChunkRetryTimes = 1 })
    local ok, e = pcall(fn, cos, srv)
    cos:close()
    U.shutdown(srv)
    assert(ok, e)
  end

  it("CRC-64 present: a whole-file PUT is verified by it", function()
    with_server({ "op=PutObject,no-etag" }, function(cos, srv)
      local path = U.random_file(dir .. "/put.bin", 1000)
      local data, err = cos:uploadFile(U.params("put.bin", { FilePath = path }))
      assert.is_nil(err, err and err.message)
      assert.are.equal("", data.ETag)
      assert.are.equal(1, count(srv, "PUT", "^/put%.bin$"))
      assert.is_true(U.object_equals_file(cos, "put.bin", path))
    end)
  end)

  it("CRC-64 present: a part is verified by it, and sent again for its ETag", function()
    with_server({ "op=UploadPart,part=2,no-etag,times=1" }, function(cos, srv)
      local path = U.random_file(dir .. "/part.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("part.bin", { FilePath = path }))
      assert.is_nil(err, err and err.message)
      assert.truthy(data.ETag:match("%-3\"$"))
      local tries = 0
      for _, l in ipairs(U.part_puts(srv, "part.bin")) do if l.part == 2 then tries = tries + 1 end end
      assert.are.equal(2, tries)
      assert.is_true(U.object_equals_file(cos, "part.bin", path))
    end)
  end)

  it("CRC-64 present, the ETag never comes: the part fails with InvalidResponse after its retries", function()
    with_server({ "op=UploadPart,part=2,no-etag" }, function(cos, srv)
      local path = U.random_file(dir .. "/never.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("never.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.truthy(err.message:find("part 2", 1, true), err.message)
      local tries = 0
      for _, l in ipairs(U.part_puts(srv, "never.bin")) do if l.part == 2 then tries = tries + 1 end end
      assert.are.equal(3, tries) -- the first try and ChunkRetryTimes + 1 more, as for a damaged part
      assert.truthy(err.UploadId ~= "") -- kept for a resume, as after any failed part
    end)
  end)

  it("neither ETag nor CRC-64: UnverifiedUpload at once, for a PUT and for a part", function()
    with_server({ "op=PutObject,no-etag,no-crc64", "op=UploadPart,part=2,no-etag,no-crc64" }, function(cos, srv)
      local small = U.random_file(dir .. "/u-put.bin", 1000)
      local big = U.random_file(dir .. "/u-part.bin", 3 * MIB)
      local _, perr = cos:uploadFile(U.params("u-put.bin", { FilePath = small }))
      local _, serr = cos:sliceUploadFile(U.params("u-part.bin", { FilePath = big }))
      assert.are.equal("UnverifiedUpload", perr.code)
      assert.are.equal("UnverifiedUpload", serr.code)
      assert.truthy(serr.message:find("part 2", 1, true), serr.message)
      assert.are.equal(1, count(srv, "PUT", "^/u%-put%.bin$"))
      local tries = 0
      for _, l in ipairs(U.part_puts(srv, "u-part.bin")) do if l.part == 2 then tries = tries + 1 end end
      assert.are.equal(1, tries)
    end)
  end)

  it("the same for a stream's parts and its PUT", function()
    with_server({ "op=UploadPart,part=1,no-etag,times=1", "op=PutObject,no-etag" }, function(cos, srv)
      local path = U.random_file(dir .. "/s.bin", 2 * MIB + 1)
      local small = U.random_file(dir .. "/s-put.bin", 1000)
      assert(cos:sliceUploadFile(U.params("s.bin", { Body = stream(path, 2 * MIB + 1) })))
      local tries = 0
      for _, l in ipairs(U.part_puts(srv, "s.bin")) do if l.part == 1 then tries = tries + 1 end end
      assert.are.equal(2, tries)
      local data = assert(cos:uploadFile(U.params("s-put.bin", { Body = stream(small, 1000) })))
      assert.are.equal("", data.ETag)
      assert.is_true(U.object_equals_file(cos, "s.bin", path))
    end)
    with_server({ "op=UploadPart,part=1,no-etag,no-crc64" }, function(cos)
      local path = U.random_file(dir .. "/s2.bin", 2 * MIB + 1)
      local _, err = cos:sliceUploadFile(U.params("s2.bin", { Body = stream(path, 2 * MIB + 1) }))
      assert.are.equal("UnverifiedUpload", err.code)
    end)
  end)
end)

-- UploadCheckContentMd5 = true: every body whose bytes are known before it is sent carries
-- Content-MD5 (cosd refuses a wrong one with BadDigest, so every success below also proves the
-- value right); the only exception is a pulled body (a Lua function with ContentLength) of
-- putObject / appendObject / multipartUpload, whose bytes are not known before they are sent.
describe("UploadCheckContentMd5", function()
  local srv, cos, plain, dir, small, big
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, UploadCheckContentMd5 = true })
    plain = COS.new(srv:client_options { Checkpoint = false })
    small = U.random_file(dir .. "/small.bin", 1000)
    big = U.random_file(dir .. "/big.bin", 2 * MIB + 5)
  end)
  teardown(function()
    cos:close()
    plain:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  -- The request log entries that carried a body to `key` (PUTs, Append's POST, Complete's POST).
  local function uploads_of(key)
    local out = {}
    local path = "/" .. cosd.encode(key, true)
    for _, e in ipairs(srv:request_log()) do
      local target = e.target:match("^[^?]*")
      if target == path and (e.method == "PUT" or (e.method == "POST" and (e.target:find("uploadId=", 1, true) or e.target:find("?append", 1, true)))) then
        out[#out + 1] = e
      end
    end
    return out
  end

  local function all_carry_md5(key, want_n)
    local reqs = uploads_of(key)
    assert.is_true(#reqs >= want_n, key .. ": " .. #reqs .. " requests")
    for _, e in ipairs(reqs) do
      assert.are.equal(200, e.status, key .. " " .. e.target)
      assert.truthy(e.header["content-md5"], key .. " " .. e.method .. " " .. e.target .. " has no Content-MD5")
    end
  end

  it("is sent on every upload path, for strings, files, io files and streams", function()
    local f = assert(io.open(small, "rb"))
    assert(cos:putObject(U.params("po-string", { Body = "hello" })))
    assert(cos:putObject(U.params("po-file", { FilePath = small })))
    assert(cos:putObject(U.params("po-io", { Body = f })))
    f:close()
    assert(cos:appendObject(U.params("ao", { Body = "one", Position = 0 })))
    assert(cos:uploadFile(U.params("uf-small", { FilePath = small })))
    assert(cos:uploadFile(U.params("uf-big", { FilePath = big, SliceSize = MIB })))
    assert(cos:sliceUploadFile(U.params("suf", { FilePath = big })))
    assert(cos:sliceUploadFile(U.params("suf-stream", { Body = stream(big, 2 * MIB + 5) })))
    assert(cos:uploadFile(U.params("uf-stream", { Body = stream(small, 1000) })))
    local init = assert(cos:multipartInit(U.params("mpu")))
    assert(cos:multipartUpload(U.params("mpu", { UploadId = init.UploadId, PartNumber = 1, Body = "part one" })))
    assert(cos:multipartUpload(U.params("mpu", { UploadId = init.UploadId, PartNumber = 2, FilePath = small })))
    for key, n in pairs({ ["po-string"] = 1, ["po-file"] = 1, ["po-io"] = 1, ao = 1, ["uf-small"] = 1,
      ["uf-big"] = 4, suf = 4, ["suf-stream"] = 4, ["uf-stream"] = 1, mpu = 2 }) do
      all_carry_md5(key, n)
    end
  end)

  it("the option follows the boolean rule: \"true\" turns it on, anything else is refused", function()
    local c = COS.new(srv:client_options { Checkpoint = "false", UploadCheckContentMd5 = "true" })
    assert(c:putObject(U.params("opt-string", { Body = "hello" })))
    c:close()
    assert.truthy(uploads_of("opt-string")[1].header["content-md5"])
    for _, v in ipairs({ "yes", "", 1 }) do
      local ok, e = pcall(COS.new, srv:client_options { UploadCheckContentMd5 = v })
      assert.is_false(ok)
      assert.truthy(tostring(e):find("option UploadCheckContentMd5 must be a boolean", 1, true), tostring(e))
    end
  end)

  it("uploadFile's single PUT with UploadAddMetaMd5 too: both headers from one MD5, both right", function()
    local hashed = {}
    assert(cos:uploadFile(U.params("uf-both", { FilePath = small, UploadAddMetaMd5 = true,
      onHashProgress = function(p) hashed[#hashed + 1] = p.loaded end })))
    local e = uploads_of("uf-both")[1]
    assert.are.equal(200, e.status) -- cosd checked the Content-MD5
    assert.truthy(e.header["content-md5"])
    assert.are.equal(U.md5_file(small), e.header["x-cos-meta-md5"])
    assert.are.equal(1000, hashed[#hashed]) -- hashed in slices, reported
  end)

  it("the value is the body's MD5: a string body's is checked here", function()
    assert(cos:putObject(U.params("po-check", { Body = "hello" })))
    local e = uploads_of("po-check")[1]
    assert.are.equal("XUFAKrxLKna5cZ2REBfFkg==", e.header["content-md5"]) -- base64(md5("hello"))
  end)

  it("is not sent for a pulled body, nor without the option", function()
    local given = false
    assert(cos:putObject(U.params("po-pull", { ContentLength = 5,
      Body = function() if given then return nil end given = true return "hello" end })))
    assert.is_nil(uploads_of("po-pull")[1].header["content-md5"])
    assert(plain:putObject(U.params("po-plain", { FilePath = small })))
    assert(plain:uploadFile(U.params("uf-plain", { FilePath = big, SliceSize = MIB })))
    for _, key in ipairs({ "po-plain", "uf-plain" }) do
      for _, e in ipairs(uploads_of(key)) do
        if e.method == "PUT" then assert.is_nil(e.header["content-md5"], key) end
      end
    end
  end)
end)

-- A failed system call on a file to upload gives one shape on every path: Node's fs error
-- {code = "ENOENT", errno, syscall, path, message = "ENOENT: no such file or directory, open '/p'"}.
describe("a missing FilePath", function()
  local srv, cos, dir
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false })
  end)
  teardown(function()
    cos:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("gives the same error shape for putObject, uploadFile, sliceUploadFile, postObject, multipartUpload", function()
    local missing = dir .. "/no/such.bin"
    local init = assert(cos:multipartInit(U.params("m.bin")))
    local calls = {
      putObject = function() return cos:putObject(U.params("m.bin", { FilePath = missing })) end,
      uploadFile = function() return cos:uploadFile(U.params("m.bin", { FilePath = missing })) end,
      sliceUploadFile = function() return cos:sliceUploadFile(U.params("m.bin", { FilePath = missing })) end,
      postObject = function() return cos:postObject(U.params("m.bin", { FilePath = missing })) end,
      multipartUpload = function()
        return cos:multipartUpload(U.params("m.bin", { FilePath = missing, UploadId = init.UploadId, PartNumber = 1 }))
      end,
      appendObject = function() return cos:appendObject(U.params("m.bin", { FilePath = missing, Position = 0 })) end,
    }
    for name, call in pairs(calls) do
      local data, err = call()
      assert.is_nil(data, name)
      assert.are.equal("ENOENT", err.code, name)
      assert.are.equal(2, err.errno, name)
      assert.are.equal(missing, err.path, name)
      assert.truthy(err.syscall == "open" or err.syscall == "stat", name .. ": " .. tostring(err.syscall))
      assert.are.equal("ENOENT: no such file or directory, " .. err.syscall .. " '" .. missing .. "'", err.message, name)
    end
    -- nothing reached the server but the multipartInit
    assert.are.equal(0, count(srv, "PUT", "m%.bin"))
    assert.are.equal(1, count(srv, "POST", "m%.bin"))
  end)

  it("getObject's Output: a failed open and a failed write in the same shape", function()
    assert(cos:putObject(U.params("out.bin", { Body = ("x"):rep(100000) })))
    local missing = dir .. "/no/such/out.bin"
    local _, err = cos:getObject(U.params("out.bin", { Output = missing }))
    assert.are.equal("ENOENT", err.code)
    assert.are.equal("ENOENT: no such file or directory, open '" .. missing .. "'", err.message)
    assert.are.same({ 2, "open", missing }, { err.errno, err.syscall, err.path })
    local f = io.open("/dev/full", "wb")
    if not f then return end -- no /dev/full here: the open case above still ran
    f:close()
    _, err = cos:getObject(U.params("out.bin", { Output = "/dev/full" }))
    assert.are.equal("EWRITE", err.code) -- the network-table code of a failed output
    assert.are.equal("ENOSPC: no space left on device, write", err.message)
    assert.are.same({ 28, "write" }, { err.errno, err.syscall })
  end)
end)
