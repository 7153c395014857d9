-- cosd: the multipart family and APPEND Object.
local cosd = require("support.cosd")

local function md5_hex_file(path)
  return (cosd.capture("md5sum " .. cosd.sh_quote(path)):match("^(%x+)"))
end

local function complete_xml(parts)
  local t = { "<CompleteMultipartUpload>" }
  for _, p in ipairs(parts) do
    t[#t + 1] = "<Part><PartNumber>" .. p[1] .. "</PartNumber><ETag>" .. p[2] .. "</ETag></Part>"
  end
  t[#t + 1] = "</CompleteMultipartUpload>"
  return table.concat(t)
end

local function initiate(s, key, headers)
  local st, _, body = s:request{ method = "POST", key = key, query = { { "uploads" } }, headers = headers }
  assert.are.equal(200, st, body)
  return body:match("<UploadId>(.-)</UploadId>"), body
end

local function upload_part(s, key, id, n, file)
  return s:request{ method = "PUT", key = key, query = { { "partNumber", tostring(n) }, { "uploadId", id } }, body_file = file }
end

describe("cosd multipart", function()
  local s, dir
  local MiB = 1024 * 1024
  setup(function()
    s = cosd.start()
    dir = s.dir
    cosd.exec("head -c " .. (MiB + 12345) .. " /dev/urandom > " .. dir .. "/p1 && head -c " .. MiB .. " /dev/urandom > " ..
      dir .. "/p2 && head -c 777 /dev/urandom > " .. dir .. "/p3 && cat " .. dir .. "/p1 " .. dir .. "/p2 " .. dir .. "/p3 > " .. dir .. "/whole")
  end)
  teardown(function() s:cleanup() end)

  it("initiates, uploads parts in any order, lists, completes; object bytes, ETag and CRC64 match", function()
    local id, body = initiate(s, "mp/big.bin", { ["Content-Type"] = "application/x-big", ["x-cos-meta-k"] = "v" })
    assert.truthy(id:match("^%d%d%d%d%d%d%d%d%d%d" .. string.rep("%x", 64) .. "$"), id)
    assert.truthy(body:find("<Bucket>examplebucket%-1250000000</Bucket>"))
    local etags, crcs = {}, {}
    for _, n in ipairs({ 3, 1, 2 }) do
      local st, h = upload_part(s, "mp/big.bin", id, n, dir .. "/p" .. n)
      assert.are.equal(200, st)
      assert.are.equal('"' .. md5_hex_file(dir .. "/p" .. n) .. '"', h.etag)
      assert.truthy(h["x-cos-hash-crc64ecma"]:match("^%d+$"))
      etags[n], crcs[n] = h.etag, h["x-cos-hash-crc64ecma"]
    end
    local st, _, lbody = s:request{ key = "mp/big.bin", query = { { "uploadId", id } } }
    assert.are.equal(200, st)
    local order, seen = {}, {}
    for tag in lbody:gmatch("<(%w+)>") do if not seen[tag] then order[#order + 1] = tag; seen[tag] = true end end
    assert.are.same({ "ListPartsResult", "Bucket", "Key", "UploadId", "Owner", "ID", "DisplayName", "PartNumberMarker",
      "Initiator", "Part", "PartNumber", "LastModified", "ETag", "Size", "StorageClass", "MaxParts", "IsTruncated" }, order)
    assert.truthy(lbody:find("<EncodingType/>", 1, true))
    assert.truthy(lbody:find("<ETag>&quot;" .. etags[2]:sub(2, -2) .. "&quot;</ETag>", 1, true))
    -- paging
    st, _, lbody = s:request{ key = "mp/big.bin", query = { { "uploadId", id }, { "max-parts", "2" } } }
    assert.truthy(lbody:find("<NextPartNumberMarker>2</NextPartNumberMarker>"))
    assert.truthy(lbody:find("<IsTruncated>true</IsTruncated>"))
    st, _, lbody = s:request{ key = "mp/big.bin", query = { { "uploadId", id }, { "part-number-marker", "2" } } }
    assert.truthy(lbody:find("<PartNumber>3</PartNumber>"))
    assert.falsy(lbody:find("<PartNumber>1</PartNumber>"))
    -- complete with one unquoted ETag
    local xml = complete_xml({ { 1, etags[1] }, { 2, etags[2]:sub(2, -2) }, { 3, etags[3] } })
    local st2, h2, cbody = s:request{ method = "POST", key = "mp/big.bin", query = { { "uploadId", id } }, body = xml,
      headers = { ["Content-Type"] = "application/xml" } }
    assert.are.equal(200, st2, cbody)
    local etag = cbody:match("<ETag>(.-)</ETag>")
    assert.truthy(etag:match("^&quot;%x+%-3&quot;$"), etag)
    -- S3 algorithm: md5 of the binary part md5s
    local f = io.open(dir .. "/md5s", "wb")
    for n = 1, 3 do f:write((etags[n]:sub(2, -2):gsub("..", function(x) return string.char(tonumber(x, 16)) end))) end
    f:close()
    assert.are.equal("&quot;" .. md5_hex_file(dir .. "/md5s") .. "-3&quot;", etag)
    local st3, h3 = s:request{ key = "mp/big.bin", out_file = dir .. "/got" }
    assert.are.equal(200, st3)
    assert.are.equal(md5_hex_file(dir .. "/whole"), md5_hex_file(dir .. "/got"))
    assert.are.equal(h2["x-cos-hash-crc64ecma"], h3["x-cos-hash-crc64ecma"])
    assert.are.equal("application/x-big", h3["content-type"])
    assert.are.equal("v", h3["x-cos-meta-k"])
    -- the upload is gone
    local st4, _, b4 = s:request{ key = "mp/big.bin", query = { { "uploadId", id } } }
    assert.are.equal(404, st4)
    assert.are.equal("NoSuchUpload", cosd.err_code(b4))
  end)

  it("computes the object CRC64 like a single PUT of the same bytes", function()
    local _, h = s:request{ method = "PUT", key = "mp/single.bin", body_file = dir .. "/whole" }
    local _, h2 = s:request{ method = "HEAD", key = "mp/big.bin" }
    assert.are.equal(h["x-cos-hash-crc64ecma"], h2["x-cos-hash-crc64ecma"])
  end)

  it("reports Complete errors: EntityTooSmall, InvalidPart, InvalidPartOrder, MalformedXML, NoSuchUpload", function()
    local id = initiate(s, "mp/err.bin")
    local _, h3 = upload_part(s, "mp/err.bin", id, 1, dir .. "/p3")
    local _, h1 = upload_part(s, "mp/err.bin", id, 2, dir .. "/p1")
    local function complete(xml)
      local st, _, body = s:request{ method = "POST", key = "mp/err.bin", query = { { "uploadId", id } }, body = xml }
      return st, cosd.err_code(body)
    end
    assert.are.same({ 400, "EntityTooSmall" }, { complete(complete_xml({ { 1, h3.etag }, { 2, h1.etag } })) })
    assert.are.same({ 400, "InvalidPart" }, { complete(complete_xml({ { 1, h3.etag }, { 3, h1.etag } })) })
    assert.are.same({ 400, "InvalidPart" }, { complete(complete_xml({ { 1, h1.etag } })) })
    assert.are.same({ 400, "InvalidPartOrder" }, { complete(complete_xml({ { 2, h1.etag }, { 1, h3.etag } })) })
    assert.are.same({ 400, "MalformedXML" }, { complete("<CompleteMultipartUpload><Part>") })
    assert.are.same({ 400, "MalformedXML" }, { complete("not xml at all") })
    -- the upload survived all of that
    assert.are.equal(200, (s:request{ key = "mp/err.bin", query = { { "uploadId", id } } }))
    local st, _, body = s:request{ method = "POST", key = "mp/err.bin", query = { { "uploadId", "1700000000" .. string.rep("a", 64) } },
      body = complete_xml({ { 1, h3.etag } }) }
    assert.are.equal(404, st)
    assert.are.equal("NoSuchUpload", cosd.err_code(body))
    local big = "<CompleteMultipartUpload>" .. string.rep(" ", 1024 * 1024 + 10) .. "</CompleteMultipartUpload>"
    local stb = s:request{ method = "POST", key = "mp/err.bin", query = { { "uploadId", id } }, body = big }
    assert.are.equal(400, stb)
  end)

  it("checks part numbers and upload ids on Upload Part", function()
    local id = initiate(s, "mp/pn.bin")
    for _, n in ipairs({ 0, 10001, -1 }) do
      local st, _, body = upload_part(s, "mp/pn.bin", id, n, dir .. "/p3")
      assert.are.equal(400, st)
      assert.are.equal("InvalidArgument", cosd.err_code(body))
    end
    local st, _, body = upload_part(s, "mp/pn.bin", "1700000000" .. string.rep("b", 64), 1, dir .. "/p3")
    assert.are.equal(404, st)
    assert.are.equal("NoSuchUpload", cosd.err_code(body))
    -- another key's upload id is not this key's
    st = upload_part(s, "mp/other.bin", id, 1, dir .. "/p3")
    assert.are.equal(404, st)
  end)

  it("aborts (204, then NoSuchUpload)", function()
    local id = initiate(s, "mp/abort.bin")
    upload_part(s, "mp/abort.bin", id, 1, dir .. "/p3")
    assert.are.equal(204, (s:request{ method = "DELETE", key = "mp/abort.bin", query = { { "uploadId", id } } }))
    local st, _, body = s:request{ method = "DELETE", key = "mp/abort.bin", query = { { "uploadId", id } } }
    assert.are.equal(404, st)
    assert.are.equal("NoSuchUpload", cosd.err_code(body))
  end)

  it("lists multipart uploads with prefix, delimiter, markers, max-uploads and encoding", function()
    local ids = {}
    for _, k in ipairs({ "lu/a", "lu/a", "lu/b c", "lu/d/1", "lu/d/2" }) do ids[#ids + 1] = initiate(s, k) end
    local st, _, body = s:request{ query = { { "uploads" }, { "prefix", "lu/" }, { "delimiter", "/" } } }
    assert.are.equal(200, st)
    local keys = {}
    for k in body:gmatch("<Key>(.-)</Key>") do keys[#keys + 1] = k end
    assert.are.same({ "lu/a", "lu/a", "lu/b c" }, keys)
    assert.truthy(body:find("<CommonPrefixes>%s*<Prefix>lu/d/</Prefix>"))
    assert.truthy(body:find("<Initiated>"))
    st, _, body = s:request{ query = { { "uploads", "" }, { "prefix", "lu/" }, { "max-uploads", "1" } } }
    assert.truthy(body:find("<IsTruncated>true</IsTruncated>"))
    local nk, nu = body:match("<NextKeyMarker>(.-)</NextKeyMarker>"), body:match("<NextUploadIdMarker>(.-)</NextUploadIdMarker>")
    assert.are.equal("lu/a", nk)
    st, _, body = s:request{ query = { { "uploads" }, { "prefix", "lu/" }, { "key-marker", nk }, { "upload-id-marker", nu },
      { "encoding-type", "url" } } }
    keys = {}
    for k in body:gmatch("<Key>(.-)</Key>") do keys[#keys + 1] = k end
    assert.are.same({ "lu/a", "lu/b%20c", "lu/d/1", "lu/d/2" }, keys)
    for _, bad in ipairs({ "0", "1001", "x" }) do
      local st2, _, b2 = s:request{ query = { { "uploads" }, { "max-uploads", bad } } }
      assert.are.equal(400, st2)
      assert.are.equal("InvalidArgument", cosd.err_code(b2))
    end
  end)

  it("uploads parts of one upload in parallel", function()
    local id = initiate(s, "mp/par.bin")
    local cmds = {}
    for n = 1, 8 do
      cmds[#cmds + 1] = "head -c " .. MiB .. " /dev/zero | tr '\\0' '" .. string.char(64 + n) .. "' > " .. dir .. "/pp" .. n
    end
    cosd.exec(table.concat(cmds, "; "))
    -- start 8 curl processes at once (signed up front)
    local sh = {}
    for n = 1, 8 do
      local auth = cosd.capture(cosd.tools .. "/cos-sign --method PUT --path /mp/par.bin --header host:" .. cosd.BUCKET ..
        ".cos." .. cosd.REGION .. ".myqcloud.com --param partNumber=" .. n .. " --param uploadId=" .. id):gsub("%s+$", "")
      sh[#sh + 1] = "curl -s -o /dev/null -w '%{http_code}\\n' -X PUT -H 'Host: " .. cosd.BUCKET .. ".cos." .. cosd.REGION ..
        ".myqcloud.com' -H " .. cosd.sh_quote("Authorization: " .. auth) .. " --data-binary @" .. dir .. "/pp" .. n ..
        " 'http://127.0.0.1:" .. s.port .. "/mp/par.bin?partNumber=" .. n .. "&uploadId=" .. id .. "' >> " .. dir .. "/par.out &"
    end
    cosd.exec(table.concat(sh, "\n") .. "\nwait")
    local out = cosd.read_file(dir .. "/par.out")
    local _, n200 = out:gsub("200", "")
    assert.are.equal(8, n200)
    local _, _, lbody = s:request{ key = "mp/par.bin", query = { { "uploadId", id } } }
    local _, nparts = lbody:gsub("<Part>", "")
    assert.are.equal(8, nparts)
  end)
end)

describe("cosd append", function()
  local s
  setup(function() s = cosd.start() end)
  teardown(function() s:cleanup() end)

  local function append(key, pos, body)
    return s:request{ method = "POST", key = key, query = { { "append" }, { "position", tostring(pos) } }, body = body }
  end

  it("creates an appendable object and appends at the right position", function()
    local st, h = append("ap.txt", 0, "hello ")
    assert.are.equal(200, st)
    assert.are.equal("6", h["x-cos-next-append-position"])
    assert.are.equal("f814893777bcc2295fff05f00e508da6", h["x-cos-content-sha1"]) -- md5("hello ")
    st, h = append("ap.txt", 6, "world")
    assert.are.equal(200, st)
    assert.are.equal("11", h["x-cos-next-append-position"])
    assert.are.equal("5981764153023615706", h["x-cos-hash-crc64ecma"])
    local st2, h2, body = s:request{ key = "ap.txt" }
    assert.are.equal(200, st2)
    assert.are.equal("hello world", body)
    assert.are.equal("appendable", h2["x-cos-object-type"])
    assert.are.equal('"5eb63bbbe01eeed093cb22bb8f5acdc3"', h2.etag)
    local _, h3 = s:request{ method = "HEAD", key = "ap.txt" }
    assert.are.equal("11", h3["x-cos-next-append-position"])
    assert.are.equal("appendable", h3["x-cos-object-type"])
  end)

  it("answers 409 AppendPositionErr on a wrong position", function()
    local st, h, body = append("ap.txt", 3, "x")
    assert.are.equal(409, st)
    assert.are.equal("AppendPositionErr", cosd.err_code(body))
    assert.are.equal("11", h["x-cos-next-append-position"])
    st, _, body = append("ap-new.txt", 5, "x")
    assert.are.equal(409, st)
    assert.are.equal("AppendPositionErr", cosd.err_code(body))
  end)

  it("answers 409 ObjectNotAppendable for a normal object, and 400 without position", function()
    s:request{ method = "PUT", key = "normal.txt", body = "n" }
    local st, _, body = append("normal.txt", 1, "x")
    assert.are.equal(409, st)
    assert.are.equal("ObjectNotAppendable", cosd.err_code(body))
    st, _, body = s:request{ method = "POST", key = "ap.txt", query = { { "append" } }, body = "x" }
    assert.are.equal(400, st)
    assert.are.equal("InvalidArgument", cosd.err_code(body))
  end)
end)

-- Complete keeps a manifest of the parts instead of copying them (store.c): reads stream across
-- the part files, and a kill -9 at any moment of Complete leaves no object or the whole one.
describe("cosd Complete with a manifest", function()
  local MiB = 1024 * 1024
  local s, dir

  local function upload_parts(key, files)
    local id = initiate(s, key)
    local parts = {}
    for n, f in ipairs(files) do
      local st, h = upload_part(s, key, id, n, f)
      assert.are.equal(200, st)
      parts[n] = { n, h.etag }
    end
    return id, parts
  end

  local function complete(key, id, parts)
    return s:request{ method = "POST", key = key, query = { { "uploadId", id } }, body = complete_xml(parts),
      headers = { ["Content-Type"] = "application/xml" } }
  end

  local function slice(path, off, len)
    return cosd.capture(("dd if=%s bs=1 skip=%d count=%d 2>/dev/null | md5sum"):format(cosd.sh_quote(path), off, len))
  end

  setup(function()
    s = cosd.start()
    dir = s.dir
    cosd.exec("head -c " .. (MiB + 12345) .. " /dev/urandom > " .. dir .. "/p1 && head -c " .. MiB .. " /dev/urandom > " ..
      dir .. "/p2 && head -c 777 /dev/urandom > " .. dir .. "/p3 && cat " .. dir .. "/p1 " .. dir .. "/p2 " .. dir .. "/p3 > " .. dir .. "/whole")
  end)
  teardown(function() s:cleanup() end)

  it("GET, HEAD and Range reads stream across the part files; ETag and CRC-64 come from the parts", function()
    local files = { dir .. "/p1", dir .. "/p2", dir .. "/p3" }
    local id, parts = upload_parts("man/a.bin", files)
    -- part 4 is uploaded but not listed in Complete: not part of the object
    assert.are.equal(200, (upload_part(s, "man/a.bin", id, 4, dir .. "/p2")))
    local st, h = complete("man/a.bin", id, parts)
    assert.are.equal(200, st)
    local _, single = s:request{ method = "PUT", key = "man/single.bin", body_file = dir .. "/whole" }
    assert.are.equal(single["x-cos-hash-crc64ecma"], h["x-cos-hash-crc64ecma"])
    local hst, hh = s:request{ method = "HEAD", key = "man/a.bin" }
    assert.are.equal(200, hst)
    assert.are.equal(tostring(2 * MiB + 12345 + 777), hh["content-length"])
    assert.are.equal(h["x-cos-hash-crc64ecma"], hh["x-cos-hash-crc64ecma"])
    assert.truthy(hh.etag:match('^"%x+%-3"$'), hh.etag)
    assert.are.equal(200, (s:request{ key = "man/a.bin", out_file = dir .. "/got" }))
    assert.are.equal(md5_hex_file(dir .. "/whole"), md5_hex_file(dir .. "/got"))
    local b1 = MiB + 12345       -- end of part 1
    local b2 = b1 + MiB          -- end of part 2
    for _, r in ipairs({ { b1 - 100, 300 }, { b2 - 5, 10 }, { 0, b1 }, { b1, MiB }, { b1 - 1, MiB + 2 }, { b2, 777 } }) do
      local a, n = r[1], r[2]
      local rst, rh = s:request{ key = "man/a.bin", out_file = dir .. "/range",
        headers = { Range = ("bytes=%d-%d"):format(a, a + n - 1) } }
      assert.are.equal(206, rst)
      assert.are.equal(("bytes %d-%d/%d"):format(a, a + n - 1, b2 + 777), rh["content-range"])
      assert.are.equal(slice(dir .. "/whole", a, n), cosd.capture("md5sum < " .. cosd.sh_quote(dir .. "/range")))
    end
    local sst = s:request{ key = "man/a.bin", out_file = dir .. "/range", headers = { Range = "bytes=-1000" } }
    assert.are.equal(206, sst)
    assert.are.equal(slice(dir .. "/whole", b2 + 777 - 1000, 1000), cosd.capture("md5sum < " .. cosd.sh_quote(dir .. "/range")))
    -- the object survives a restart, and replacing or deleting it frees the part files
    s:restart()
    assert.are.equal(200, (s:request{ key = "man/a.bin", out_file = dir .. "/got" }))
    assert.are.equal(md5_hex_file(dir .. "/whole"), md5_hex_file(dir .. "/got"))
    local odir = s.data .. "/b/" .. cosd.BUCKET .. "/o"
    local function data_dirs() return tonumber((cosd.capture("find " .. cosd.sh_quote(odir) .. " -mindepth 1 -maxdepth 1 -type d | wc -l"))) end
    assert.are.equal(1, data_dirs())
    assert.are.equal(200, (s:request{ method = "PUT", key = "man/a.bin", body = "small now" }))
    assert.are.equal(0, data_dirs())
    local id2, parts2 = upload_parts("man/b.bin", { dir .. "/p1", dir .. "/p3" })
    assert.are.equal(200, (complete("man/b.bin", id2, parts2)))
    assert.are.equal(1, data_dirs())
    assert.are.equal(204, (s:request{ method = "DELETE", key = "man/b.bin" }))
    assert.are.equal(0, data_dirs())
  end)

  it("kill -9 during Complete leaves no object or the whole one", function()
    local files = {}
    for i = 1, 12 do files[i] = dir .. "/p2" end
    files[13] = dir .. "/p3"
    local whole = dir .. "/whole13"
    cosd.exec("cat " .. table.concat(files, " ") .. " > " .. cosd.sh_quote(whole))
    local want = md5_hex_file(whole)
    local seen = {}
    for i, delay in ipairs({ 0, 0.001, 0.003, 0.01, 0.05 }) do
      local key = "man/k" .. i .. ".bin"
      local id, parts = upload_parts(key, files)
      cosd.exec(("(sleep %g; kill -KILL %d) >/dev/null 2>&1 &"):format(delay, s.pid))
      complete(key, id, parts)
      os.execute("sleep 0.1")
      s:kill()
      s:restart()
      local st = s:request{ key = key, out_file = dir .. "/got" }
      if st == 200 then
        assert.are.equal(want, md5_hex_file(dir .. "/got"))
        seen.whole = true
      else
        assert.are.equal(404, st)
        seen.none = true
        -- no half object: the upload is still there to complete, or gone with no object
        local lst = s:request{ key = key, query = { { "uploadId", id } } }
        if lst == 200 then
          assert.are.equal(200, (complete(key, id, parts)))
          assert.are.equal(200, (s:request{ key = key, out_file = dir .. "/got" }))
          assert.are.equal(want, md5_hex_file(dir .. "/got"))
        end
      end
    end
    assert.truthy(seen.whole or seen.none)
  end)
end)
