-- A broken or hostile server (or a proxy in between) must never hang the client, make it buffer
-- without bound, or make it report an upload it did not verify as a success. Each case is a real
-- cosd answering wrongly through --fault.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

local function client(srv, extra)
  local o = { Checkpoint = false, ChunkSize = MIB, ChunkRetryTimes = 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return COS.new(srv:client_options(o))
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function count(srv, method, pattern)
  local n = 0
  for _, l in ipairs(U.access_log(srv)) do
    if l.method == method and l.target:find(pattern) then n = n + 1 end
  end
  return n
end

describe("a hostile server", function()
  local dir
  setup(function() dir = U.tmpdir() end)
  teardown(function() U.rmdir(dir) end)

  describe("pagination", function()
    it("List Parts whose marker never advances ends with an error, not a loop", function()
      local page = write(dir .. "/stuck-parts.xml", [[
<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>
<Part><PartNumber>1</PartNumber><ETag>"00000000000000000000000000000001"</ETag><Size>1048576</Size></Part>
<NextPartNumberMarker>1</NextPartNumberMarker><IsTruncated>true</IsTruncated></ListPartsResult>]])
      local srv = cosd.start { faults = { "op=ListParts,body=" .. page } }
      local cos = client(srv)
      assert(cos:multipartInit(U.params("stuck.bin"))) -- a candidate, so sliceUploadFile lists its parts
      local path = U.random_file(dir .. "/stuck.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("stuck.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.truthy(err.message:find("does not advance", 1, true))
      assert.are.equal(2, count(srv, "GET", "uploadId=")) -- the first page, then the same marker once
      cos:close()
      U.shutdown(srv)
    end)

    it("List Parts that pages past 10000 parts ends with an error", function()
      local srv = cosd.start { faults = { "op=ListParts,endless-list" } }
      local cos = client(srv)
      assert(cos:multipartInit(U.params("endless.bin")))
      local path = U.random_file(dir .. "/endless.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("endless.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.truthy(err.message:find("10000", 1, true))
      assert.are.equal(10, count(srv, "GET", "uploadId=")) -- pages of 1000: the 10th claims more
      cos:close()
      U.shutdown(srv)
    end)

    it("List Multipart Uploads whose markers never advance ends with an error", function()
      local page = write(dir .. "/stuck-uploads.xml", [[
<ListMultipartUploadsResult><Bucket>b</Bucket><Prefix>up.bin</Prefix>
<NextKeyMarker>up.bin</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker><IsTruncated>true</IsTruncated>
<Upload><Key>other.bin</Key><UploadId>u1</UploadId></Upload></ListMultipartUploadsResult>]])
      local srv = cosd.start { faults = { "op=ListMultipartUploads,body=" .. page } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/up.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("up.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.truthy(err.message:find("does not advance", 1, true))
      assert.are.equal(2, count(srv, "GET", "uploads"))
      cos:close()
      U.shutdown(srv)
    end)

    it("List Multipart Uploads that pages on forever stops after 10000 uploads", function()
      local srv = cosd.start { faults = { "op=ListMultipartUploads,endless-list" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/many.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("many.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.truthy(err.message:find("more than 10000", 1, true))
      assert.are.equal(11, count(srv, "GET", "uploads"))
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("large answers", function()
    it("converts a List Parts page of 50000 distinct elements correctly", function()
      -- Each distinct name used to cost a scan of the names before it (quadratic: seconds of CPU).
      local parts, extra = {}, {}
      for i = 1, 25000 do
        parts[i] = ('<Part><PartNumber>%d</PartNumber><ETag>"%032d"</ETag><Size>%d</Size></Part>'):format(i, i, i)
        extra[i] = ("<X%d>v%d</X%d>"):format(i, i, i)
      end
      local page = write(dir .. "/wide.xml", "<ListPartsResult><Bucket>b</Bucket>" .. table.concat(parts) ..
        table.concat(extra) .. "<IsTruncated>false</IsTruncated></ListPartsResult>")
      local srv = cosd.start { faults = { "op=ListParts,body=" .. page } }
      local cos = client(srv)
      local data, err = cos:multipartListPart(U.params("wide.bin", { UploadId = "x" }))
      assert.is_nil(err)
      assert.are.equal(25000, #data.Part)
      assert.are.equal("12345", data.Part[12345].PartNumber)
      assert.are.equal(('"%032d"'):format(25000), data.Part[25000].ETag)
      assert.are.equal("v1", data.X1)
      assert.are.equal("v24999", data.X24999)
      assert.are.equal("false", data.IsTruncated)
      cos:close()
      U.shutdown(srv)
    end)

    it("refuses an XML answer larger than 8 MiB without reading all of it", function()
      -- 100 MB of keep-alive spaces before the document: a client that buffers it all succeeds.
      local huge_error = write(dir .. "/huge-error.xml", "<Error><Code>X</Code>" .. (" "):rep(9 * MIB) .. "</Error>")
      local srv = cosd.start { faults = { "op=ListParts,keepalive-spaces=100000000",
        "op=DeleteObject,status=500,body=" .. huge_error } }
      local cos = client(srv)
      local init = assert(cos:multipartInit(U.params("big.bin")))
      local data, err = cos:multipartListPart(U.params("big.bin", { UploadId = init.UploadId }))
      assert.is_nil(data)
      assert.are.equal("ResponseTooLarge", err.code)
      assert.are.equal(200, err.statusCode)
      assert.truthy(err.message:find(tostring(8 * MIB), 1, true))
      local sent
      for _, l in ipairs(U.access_log(srv)) do
        if l.method == "GET" and l.target:find("uploadId=") then sent = l.bytes_out end
      end
      assert.truthy(sent and sent < 64 * MIB, "cosd sent " .. tostring(sent) .. " bytes")
      -- the same cap holds for an error answer (not retried)
      local _, derr = cos:deleteObject(U.params("whatever"))
      assert.are.equal("ResponseTooLarge", derr.code)
      assert.are.equal(500, derr.statusCode)
      assert.are.equal(1, count(srv, "DELETE", "whatever"))
      -- getObject's in-memory Body is the object the caller asked for: not capped
      local body = ("z"):rep(9 * MIB)
      assert(cos:putObject(U.params("nine.bin", { Body = body })))
      local got = assert(cos:getObject(U.params("nine.bin")))
      assert.are.equal(#body, #got.Body)
      cos:close()
      U.shutdown(srv)
    end)
  end)

  describe("verification", function()
    local FAKE = [[<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket><Key>v.bin</Key>
<ETag>"0123456789abcdef0123456789abcdef-3"</ETag></CompleteMultipartUploadResult>]]

    local function heads(srv) return count(srv, "HEAD", "^/") end

    it("a Complete answering a result document without CRC-64 for an object that is not there fails", function()
      local fake = write(dir .. "/fake.xml", FAKE)
      local srv = cosd.start { faults = { "op=CompleteMultipartUpload,nth=1,body=" .. fake } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/v.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("v.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
      assert.truthy(err.message:find("HEAD answered 404", 1, true))
      assert.truthy(err.UploadId ~= "") -- the parts are still there: restartTask or a new call completes
      local _, herr = U.head(cos, "v.bin")
      assert.are.equal(404, herr.statusCode)
      cos:close()
      U.shutdown(srv)
    end)

    it("a Complete without CRC-64 is verified by a HEAD of the object", function()
      local srv = cosd.start { faults = { "op=CompleteMultipartUpload,no-crc64" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/h.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("h.bin", { FilePath = path }))
      assert.is_nil(err)
      assert.are.equal(200, data.statusCode)
      assert.are.equal(1, heads(srv))
      assert.is_true(U.object_equals_file(cos, "h.bin", path))
      cos:close()
      U.shutdown(srv)
    end)

    it("fails when neither Complete nor a HEAD of the object gives a CRC-64", function()
      local srv = cosd.start { faults = { "op=CompleteMultipartUpload,no-crc64", "op=HeadObject,no-crc64" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/n.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("n.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
      assert.truthy(err.message:find("could not be verified", 1, true))
      cos:close()
      U.shutdown(srv)
    end)

    it("a HEAD that gives another CRC-64 is an IntegrityError", function()
      local srv = cosd.start { faults = { "op=CompleteMultipartUpload,no-crc64", "op=HeadObject,crc64=12345" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/c.bin", 3 * MIB)
      local _, err = cos:sliceUploadFile(U.params("c.bin", { FilePath = path }))
      assert.are.equal("IntegrityError", err.code)
      cos:close()
      U.shutdown(srv)
    end)

    it("a part answered with neither an MD5 ETag nor a CRC-64 fails the upload (sent twice: the second hashing MD5)", function()
      local srv = cosd.start { faults = { "op=UploadPart,part=2,etag=kms-not-an-md5,no-crc64" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/p.bin", 3 * MIB)
      local data, err = cos:sliceUploadFile(U.params("p.bin", { FilePath = path, AsyncLimit = 1 }))
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
      assert.truthy(err.message:find("part 2", 1, true))
      local tries = 0
      for _, l in ipairs(U.part_puts(srv, "p.bin")) do if l.part == 2 then tries = tries + 1 end end
      assert.are.equal(2, tries)
      cos:close()
      U.shutdown(srv)
    end)

    it("putObject is verified too: by CRC-64, refused with a wrong one", function()
      local srv = cosd.start { faults = { "op=PutObject,nth=1,no-etag", "op=PutObject,nth=2,crc64=12345" } }
      local cos = client(srv)
      local data, err = cos:putObject(U.params("po.txt", { Body = "verified by CRC-64" }))
      assert.is_nil(err)
      assert.are.equal(200, data.statusCode)
      data, err = cos:putObject(U.params("po.txt", { Body = "wrong crc!" }))
      assert.is_nil(data)
      assert.are.equal("IntegrityError", err.code)
      assert.are.equal(200, err.statusCode)
      assert(cos:putObject(U.params("po.txt", { Body = "fine" })))
      cos:close()
      U.shutdown(srv)
    end)

    -- Without CRC-64 the ETag is the check: the first such answer sends the body again hashing
    -- MD5; a pulled body (it cannot be sent twice) hashes MD5 from the start.
    it("putObject against a server without CRC-64: checked by ETag, refused with neither or a wrong one", function()
      local srv = cosd.start { faults = { "op=PutObject,nth=1,times=2,no-crc64", "op=PutObject,nth=3,no-etag,no-crc64",
        "op=PutObject,nth=4,etag=bogus,no-crc64", "op=PutObject,nth=5,times=1,no-crc64,etag=bogus" } }
      local cos = client(srv)
      local data, err = cos:putObject(U.params("po.txt", { Body = "sent twice, then checked by ETag" }))
      assert.is_nil(err, err and err.message)
      assert.are.equal(2, count(srv, "PUT", "po.txt"))
      data, err = cos:putObject(U.params("po.txt", { Body = "nothing to check" }))
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
      data, err = cos:putObject(U.params("po.txt", { Body = "wrong ETag" }))
      assert.are.equal("IntegrityError", err.code)
      local other = client(srv) -- a new client has not met the server yet: the pulled body hashes MD5 anyway
      local pulled = false
      data, err = other:putObject(U.params("po.txt", { ContentLength = 10,
        Body = function() if pulled then return nil end pulled = true return "wrong etag" end }))
      assert.are.equal("IntegrityError", err.code)
      assert(cos:putObject(U.params("po.txt", { Body = "fine" })))
      other:close()
      cos:close()
      U.shutdown(srv)
    end)

    it("a whole-file PUT answered with neither ETag nor CRC-64 fails", function()
      local srv = cosd.start { faults = { "op=PutObject,no-etag,no-crc64" } }
      local cos = client(srv)
      local path = U.random_file(dir .. "/small.bin", 1000)
      local data, err = cos:uploadFile(U.params("small.bin", { FilePath = path }))
      assert.is_nil(data)
      assert.are.equal("UnverifiedUpload", err.code)
      assert.are.equal(1, count(srv, "PUT", "small.bin")) -- no ETag either: hashing MD5 would not help
      cos:close()
      U.shutdown(srv)
    end)
  end)
end)
