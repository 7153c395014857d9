-- Single operations that upload bytes report success only once the answer vouches for them, as
-- sliceUploadFile's parts do (ops/integrity.c): multipartUpload checks the part's CRC-64 (or its
-- ETag as MD5), appendObject the appended chunk's MD5 (x-cos-content-sha1) or, at position 0, the
-- object's CRC-64, and always sends Content-MD5 when its bytes are known, so that COS refuses a
-- damaged chunk itself.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

local function start(faults)
  local srv = cosd.start { faults = faults }
  return srv, COS.new(srv:client_options {})
end

local function init(cos, key)
  local d = assert(cos:multipartInit { Bucket = BUCKET, Region = REGION, Key = key })
  return d.UploadId
end

describe("single operations", function()
  local srv, cos -- the server and client of the running test (start), closed after it
  after_each(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
    srv, cos = nil, nil
  end)

  describe("multipartUpload verifies its answer", function()
    it("a part answered with another CRC-64 is an IntegrityError, not a success", function()
      srv, cos = start { "op=UploadPart,crc64=12345" }
      local id = init(cos, "p.bin")
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "p.bin", UploadId = id,
        PartNumber = 1, Body = string.rep("x", 1000) }
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
      assert.truthy(err.message:find("part 1", 1, true), err.message)
      assert.truthy(err.RequestId)
    end)

    it("an ETag that is another MD5, without CRC-64, is an IntegrityError", function()
      srv, cos = start { "op=UploadPart,no-crc64,etag=bogus" }
      local id = init(cos, "e.bin")
      -- the first answer without CRC-64 switches the client to MD5 and sends the part again
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "e.bin", UploadId = id,
        PartNumber = 1, Body = "hello" }
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
      assert.are.equal(2, #U.log_matching(srv, "PUT", "e%.bin%?partNumber=1"))
    end)

    it("a server without CRC-64: the part is sent again with MD5 and checked by its ETag", function()
      srv, cos = start { "op=UploadPart,no-crc64" }
      local id = init(cos, "m.bin")
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "m.bin", UploadId = id,
        PartNumber = 1, Body = "hello" }
      assert.is_nil(err, err and err.message)
      assert.truthy(data.ETag)
      assert.are.equal(2, #U.log_matching(srv, "PUT", "m%.bin%?partNumber=1"))
    end)

    it("neither ETag nor CRC-64: UnverifiedUpload", function()
      srv, cos = start { "op=UploadPart,no-crc64,no-etag" }
      local id = init(cos, "n.bin")
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "n.bin", UploadId = id,
        PartNumber = 1, Body = "hello" }
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
    end)
  end)

  describe("appendObject verifies its answer", function()
    it("sends Content-MD5 on every append whose bytes are known, and succeeds when the answers match", function()
      srv, cos = start {}
      local a = assert(cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "a.log", Position = 0, Body = "one," })
      local b = assert(cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "a.log", Position = 4, Body = "two" })
      assert.are.equal("7", b.headers["x-cos-next-append-position"])
      assert.truthy(a.statusCode == 200)
      local appends = 0
      for _, r in ipairs(srv:request_log()) do
        if r.target:find("?append", 1, true) then
          appends = appends + 1
          assert.truthy(r.header["content-md5"], r.target)
        end
      end
      assert.are.equal(2, appends)
    end)
  end)

  describe("postObject verifies its answer", function()
    it("a form upload answered with another CRC-64 is an IntegrityError", function()
      srv, cos = start { "op=PostObject,crc64=12345" }
      local data, err = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "f.txt", Body = "form body" }
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
    end)

    it("a server without CRC-64: sent again with MD5, checked by its ETag", function()
      srv, cos = start { "op=PostObject,no-crc64" }
      local data, err = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "g.txt", Body = "form body" }
      assert.is_nil(err, err and err.message)
      assert.truthy(data)
      assert.are.equal(2, #U.log_matching(srv, "POST", "^/$"))
      local _, herr = cos:headObject { Bucket = BUCKET, Region = REGION, Key = "g.txt" }
      assert.is_nil(herr)
    end)

    it("neither ETag nor CRC-64: UnverifiedUpload", function()
      srv, cos = start { "op=PostObject,no-crc64,no-etag" }
      local data, err = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "h.txt", Body = "form body" }
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
    end)
  end)

  describe("appendObject's answer is checked, each way", function()
    it("an x-cos-content-sha1 that is not the chunk's MD5 is an IntegrityError", function()
      srv, cos = start { "op=AppendObject,content-sha1=00000000000000000000000000000000" }
      local data, err = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "x.log", Position = 0, Body = "abc" }
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
      assert.truthy(err.message:find("x-cos-content-sha1", 1, true), err.message)
    end)

    it("without x-cos-content-sha1 at position 0, the object's CRC-64 must be the chunk's", function()
      srv, cos = start { "op=AppendObject,no-content-sha1,crc64=12345" }
      local data, err = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "y.log", Position = 0, Body = "abc" }
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
      assert.truthy(err.message:find("x-cos-hash-crc64ecma", 1, true), err.message)
    end)

    it("without x-cos-content-sha1 past position 0, the Content-MD5 COS checked vouches", function()
      srv, cos = start { "op=AppendObject,no-content-sha1" }
      assert(cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "z.log", Position = 0, Body = "abc" })
      local data, err = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "z.log", Position = 3, Body = "def" }
      assert.is_nil(err, err and err.message)
      assert.are.equal("6", data.headers["x-cos-next-append-position"])
    end)

    it("a pulled body past position 0 with nothing to check it by is UnverifiedUpload", function()
      srv, cos = start { "op=AppendObject,no-content-sha1" }
      assert(cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "w.log", Position = 0, Body = "abc" })
      local sent = false
      local data, err = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "w.log", Position = 3, ContentLength = 3,
        Body = function() if sent then return nil end sent = true return "def" end }
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
    end)
  end)
end)
