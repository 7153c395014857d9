-- cosd: crash safety, restart, faults, concurrency, TLS.
local cosd = require("support.cosd")

local function wait_for(pred, tries)
  for _ = 1, tries or 100 do
    if pred() then return true end
    cosd.exec("sleep 0.05")
  end
  return false
end

describe("cosd durability", function()
  it("never shows a partial object after kill -9 mid-upload; objects and uploads survive a restart", function()
    local s = cosd.start()
    local dir = s.dir
    assert.are.equal(200, (s:request{ method = "PUT", key = "keep.txt", body = "kept" }))
    local st, _, body = s:request{ method = "POST", key = "mp.bin", query = { { "uploads" } } }
    assert.are.equal(200, st)
    local id = body:match("<UploadId>(.-)</UploadId>")
    cosd.exec("head -c 2000 /dev/urandom > " .. dir .. "/small")
    local _, ph = s:request{ method = "PUT", key = "mp.bin", query = { { "partNumber", "1" }, { "uploadId", id } }, body_file = dir .. "/small" }
    cosd.exec("head -c 3000000 /dev/urandom > " .. dir .. "/big")
    local host = cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com"
    local auth = cosd.capture(cosd.tools .. "/cos-sign --method PUT --path /partial.bin --header host:" .. host):gsub("%s+$", "")
    cosd.exec("curl -s -o /dev/null --limit-rate 300k -X PUT -H 'Host: " .. host .. "' -H " .. cosd.sh_quote("Authorization: " .. auth) ..
      " --data-binary @" .. dir .. "/big http://127.0.0.1:" .. s.port .. "/partial.bin >/dev/null 2>&1 &")
    -- wait until cosd has some of the body in its temp directory, then kill it hard
    assert.is_true(wait_for(function()
      local out = cosd.capture("find " .. cosd.sh_quote(s.data .. "/tmp") .. " -type f -size +100k")
      return out ~= ""
    end))
    s:kill()
    local launch_ok = pcall(function() s:restart() end)
    assert.is_true(launch_ok)
    local st2, _, b2 = s:request{ key = "partial.bin" }
    assert.are.equal(404, st2)
    assert.are.equal("NoSuchKey", cosd.err_code(b2))
    assert.are.equal("", cosd.capture("find " .. cosd.sh_quote(s.data .. "/tmp") .. " -type f"))
    local _, _, kept = s:request{ key = "keep.txt" }
    assert.are.equal("kept", kept)
    local st3, _, lbody = s:request{ key = "mp.bin", query = { { "uploadId", id } } }
    assert.are.equal(200, st3)
    assert.truthy(lbody:find(ph.etag:sub(2, -2), 1, true))
    -- and it can still be completed after the restart
    local xml = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" .. ph.etag .. "</ETag></Part></CompleteMultipartUpload>"
    assert.are.equal(200, (s:request{ method = "POST", key = "mp.bin", query = { { "uploadId", id } }, body = xml }))
    s:stop()
    assert.truthy(s:stderr_text():find("^%s*$") or true)
    s:cleanup()
  end)

  it("keeps a small object whole (one file: meta and bytes) through kill -9 mid-PUT, restarts and replacements", function()
    local s = cosd.start()
    local dir = s.dir
    local odir = s.data .. "/b/" .. cosd.BUCKET .. "/o"
    local function files(pattern)
      return cosd.capture("find " .. cosd.sh_quote(odir) .. " -maxdepth 1 -name " .. cosd.sh_quote(pattern)):gsub("%s+$", "")
    end
    assert.are.equal(200, (s:request{ method = "PUT", key = "small.txt", body = "old small" }))
    -- a 60000-byte PUT (kept in memory, stored inline) sent at 2 KB/s: cosd is killed mid-body
    cosd.exec("head -c 60000 /dev/urandom > " .. dir .. "/body60k")
    local host = cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com"
    local auth = cosd.capture(cosd.tools .. "/cos-sign --method PUT --path /small.txt --header host:" .. host):gsub("%s+$", "")
    local curl_pid = cosd.capture("curl -s -o /dev/null --limit-rate 2k -X PUT -H 'Host: " .. host .. "' -H " ..
      cosd.sh_quote("Authorization: " .. auth) .. " --data-binary @" .. dir .. "/body60k http://127.0.0.1:" .. s.port ..
      "/small.txt >/dev/null 2>&1 & echo $!"):gsub("%s+$", "")
    cosd.exec("sleep 0.5")
    assert.is_true(cosd.exec("kill -0 " .. curl_pid), "the slow PUT is still sending") -- 30 s of body at that rate
    s:kill()
    s:restart()
    local st, _, got = s:request{ key = "small.txt" }
    assert.are.equal(200, st)
    assert.are.equal("old small", got)
    assert.are.equal("", cosd.capture("find " .. cosd.sh_quote(s.data .. "/tmp") .. " -type f"))
    assert.are.equal("", files("*.data")) -- small objects have no data file

    -- a big object (a data file) replaced by a small one, and back
    cosd.exec("head -c 300000 /dev/urandom > " .. dir .. "/big")
    local _, bh = s:request{ method = "PUT", key = "swap.bin", body_file = dir .. "/big" }
    assert.are_not.equal("", files("*.data"))
    local _, sh = s:request{ method = "PUT", key = "swap.bin", body = "0123456789" }
    assert.are_not.equal(bh.etag, sh.etag)
    assert.are.equal("", files("*.data")) -- the big object's bytes are gone with it
    s:restart()
    local st2, h2, b2 = s:request{ key = "swap.bin" }
    assert.are.equal(200, st2)
    assert.are.equal("0123456789", b2)
    assert.are.equal(sh.etag, h2.etag)
    local st3, h3, b3 = s:request{ key = "swap.bin", headers = { Range = "bytes=2-5" } }
    assert.are.equal(206, st3)
    assert.are.equal("2345", b3)
    assert.are.equal("bytes 2-5/10", h3["content-range"])
    local _, hh = s:request{ method = "HEAD", key = "swap.bin" }
    assert.are.equal("10", hh["content-length"])
    local _, _, list = s:request{ query = { { "prefix", "swap" } } }
    assert.truthy(list:find("<Size>10</Size>", 1, true))
    s:request{ method = "PUT", key = "swap.bin", body_file = dir .. "/big" }
    local st4 = s:request{ key = "swap.bin", out_file = dir .. "/back" }
    assert.are.equal(200, st4)
    assert.are.equal(cosd.capture("md5sum < " .. dir .. "/big"), cosd.capture("md5sum < " .. dir .. "/back"))
    assert.are.equal(204, (s:request{ method = "DELETE", key = "small.txt" }))
    assert.are.equal(404, (s:request{ key = "small.txt" }))
    assert.are.equal("", files("*" .. cosd.capture("printf small.txt | sha1sum | cut -c1-40"):gsub("%s+$", "") .. "*"))
    s:cleanup()
  end)

  it("stops cleanly on SIGTERM with exit status 0", function()
    local dir = cosd.tmpdir()
    local cmd = cosd.sh_quote(cosd.bin) .. " --listen 127.0.0.1:0 --data " .. dir .. "/d --port-file " .. dir .. "/port >" .. dir .. "/out 2>&1 & " ..
      "pid=$!; i=0; while [ ! -s " .. dir .. "/port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; kill -TERM $pid; wait $pid; echo rc=$?"
    local out = cosd.capture(cmd)
    assert.truthy(out:find("rc=0", 1, true), out)
    local first = cosd.read_file(dir .. "/out")
    assert.truthy(first:match("^cosd listening on http://127%.0%.0%.1:%d+\n"))
    cosd.exec("rm -rf " .. dir)
  end)

  it("documents every option in --help", function()
    local out = cosd.capture(cosd.sh_quote(cosd.bin) .. " --help")
    for _, o in ipairs({ "--listen", "--data", "--region", "--bucket", "--credentials", "--port-file", "--access-log",
      "--tls-cert", "--tls-key", "--bandwidth", "--latency", "--fault", "--help" }) do
      assert.truthy(out:find(o, 1, true), o)
    end
  end)
end)

describe("cosd faults", function()
  it("fails the n-th matching request (nth, status) and logs it", function()
    local s = cosd.start{ faults = { "op=PutObject,nth=2,status=503" } }
    local codes = {}
    for i = 1, 3 do codes[i] = (s:request{ method = "PUT", key = "f" .. i, body = "x" }) end
    assert.are.same({ 200, 503, 200 }, codes)
    local _, _, body = s:request{ method = "PUT", key = "g", body = "x" }
    assert.are.equal(200, (s:request{ key = "g" }))
    local log = s:access_log()
    local statuses = {}
    for _, l in ipairs(log) do if l.method == "PUT" then statuses[#statuses + 1] = l.status end end
    assert.are.same({ 200, 503, 200, 200 }, statuses)
    assert.are.equal(404, (s:request{ key = "f2" }))
    s:cleanup()
  end)

  it("fails a seeded fraction deterministically (rate, seed, times)", function()
    local function run()
      local s = cosd.start{ faults = { "op=UploadPart,rate=0.5,status=500,seed=42", "op=any,rate=0.3,seed=7,status=500,code=SlowDown,times=2" } }
      local _, _, body = s:request{ method = "POST", key = "r.bin", query = { { "uploads" } } }
      local id = body and body:match("<UploadId>(.-)</UploadId>")
      local seq = {}
      for i = 1, 16 do
        if id then
          seq[#seq + 1] = (s:request{ method = "PUT", key = "r.bin", query = { { "partNumber", tostring(i) }, { "uploadId", id } }, body = "p" })
        else
          seq[#seq + 1] = -1
        end
      end
      s:cleanup()
      return seq
    end
    local a, b = run(), run()
    assert.are.same(a, b)
    local n500, n200 = 0, 0
    for _, c in ipairs(a) do if c == 500 then n500 = n500 + 1 elseif c == 200 then n200 = n200 + 1 end end
    assert.is_true(n500 >= 2 and n200 >= 2, table.concat(a, ","))
  end)

  it("resets the connection after K body bytes (reset-after), logged with status 0", function()
    local s = cosd.start{ faults = { "op=PutObject,reset-after=65536,times=1" } }
    cosd.exec("head -c 1000000 /dev/urandom > " .. s.dir .. "/body")
    local st = s:request{ method = "PUT", key = "reset.bin", body_file = s.dir .. "/body" }
    assert.are.equal(0, st)
    assert.are.equal(404, (s:request{ key = "reset.bin" }))
    local st2 = s:request{ method = "PUT", key = "reset.bin", body_file = s.dir .. "/body" }
    assert.are.equal(200, st2)
    local first = s:access_log()[1]
    assert.are.equal("PUT", first.method)
    assert.are.equal(0, first.status)
    assert.is_true(first.bytes_in >= 65536 and first.bytes_in < 1000000)
    s:cleanup()
  end)

  it("delays responses (stall)", function()
    local s = cosd.start{ faults = { "op=HeadObject,stall=700" } }
    local t0 = cosd.capture("date +%s%N")
    local st = s:request{ method = "HEAD", key = "none" }
    local t1 = cosd.capture("date +%s%N")
    assert.are.equal(404, st)
    assert.is_true((tonumber(t1) - tonumber(t0)) / 1e6 >= 650)
    s:cleanup()
  end)

  it("refuses a bad fault spec at start-up", function()
    local out, ok = cosd.capture(cosd.sh_quote(cosd.bin) .. " --data /tmp/cosd-bad-fault --fault op=Nope,status=500 2>&1")
    assert.is_falsy(ok)
    assert.truthy(out:find("unknown op", 1, true))
    cosd.exec("rm -rf /tmp/cosd-bad-fault")
  end)
end)

describe("cosd faults that damage the answer", function()
  local function md5hex(s, data)
    local f = s.dir .. "/md5.in"
    local h = assert(io.open(f, "wb"))
    h:write(data)
    h:close()
    return (cosd.capture("md5sum " .. cosd.sh_quote(f)):match("^(%x+)"))
  end

  it("answers with another ETag but performs the operation (etag=VALUE, etag=bogus)", function()
    local s = cosd.start{ faults = { "op=PutObject,nth=1,etag=bogus", 'op=HeadObject,etag="custom-etag"' } }
    finally(function() s:cleanup() end)
    local real = '"' .. md5hex(s, "etag body") .. '"'
    local st, h = s:request{ method = "PUT", key = "e.txt", body = "etag body" }
    assert.are.equal(200, st)
    assert.are.equal('"00000000000000000000000000000000"', h.etag)
    st, h = s:request{ method = "PUT", key = "e2.txt", body = "etag body" }
    assert.are.equal(200, st)
    assert.are.equal(real, h.etag)
    local st2, h2, body = s:request{ key = "e.txt" }
    assert.are.equal(200, st2)
    assert.are.equal("etag body", body)
    assert.are.equal(real, h2.etag)
    local st3, h3 = s:request{ method = "HEAD", key = "e.txt" }
    assert.are.equal(200, st3)
    assert.are.equal('"custom-etag"', h3.etag)
  end)

  it("answers with another x-cos-hash-crc64ecma but performs the operation (crc64=VALUE)", function()
    local s = cosd.start{ faults = { "op=PutObject,nth=1,crc64=12345" } }
    finally(function() s:cleanup() end)
    local st, h = s:request{ method = "PUT", key = "c.txt", body = "crc body" }
    assert.are.equal(200, st)
    assert.are.equal("12345", h["x-cos-hash-crc64ecma"])
    local st2, h2, body = s:request{ key = "c.txt" }
    assert.are.equal(200, st2)
    assert.are.equal("crc body", body)
    assert.truthy(h2["x-cos-hash-crc64ecma"]:match("^%d+$"))
    assert.are_not.equal("12345", h2["x-cos-hash-crc64ecma"])
  end)

  it("performs the operation, then closes the connection unanswered (drop-response)", function()
    local s = cosd.start{ faults = { "op=CompleteMultipartUpload,nth=1,drop-response", "op=PutObject,nth=1,drop-response" } }
    finally(function() s:cleanup() end)
    assert.are.equal(0, (s:request{ method = "PUT", key = "d.txt", body = "dropped" }))
    local st, _, body = s:request{ key = "d.txt" }
    assert.are.equal(200, st)
    assert.are.equal("dropped", body)
    -- a lost Complete answer: the object is there, the upload is gone
    local _, _, ib = s:request{ method = "POST", key = "mp.bin", query = { { "uploads" } } }
    local id = ib:match("<UploadId>(.-)</UploadId>")
    local _, ph = s:request{ method = "PUT", key = "mp.bin", query = { { "partNumber", "1" }, { "uploadId", id } }, body = "part one" }
    local xml = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" .. ph.etag .. "</ETag></Part></CompleteMultipartUpload>"
    assert.are.equal(0, (s:request{ method = "POST", key = "mp.bin", query = { { "uploadId", id } }, body = xml }))
    local st2, _, b2 = s:request{ method = "POST", key = "mp.bin", query = { { "uploadId", id } }, body = xml }
    assert.are.equal(404, st2)
    assert.are.equal("NoSuchUpload", cosd.err_code(b2))
    local st3, _, b3 = s:request{ key = "mp.bin" }
    assert.are.equal(200, st3)
    assert.are.equal("part one", b3)
    local statuses
    wait_for(function() -- a line is written when its request has finished
      statuses = {}
      for _, l in ipairs(s:access_log()) do if l.method ~= "GET" then statuses[#statuses + 1] = l.status end end
      return #statuses >= 5
    end)
    assert.are.same({ 0, 200, 200, 0, 404 }, statuses)
  end)

  it("matches one part number only (part=N; nth counts that part's requests)", function()
    local s = cosd.start{ faults = { "op=UploadPart,part=2,status=503", "op=UploadPart,part=3,nth=2,status=500" } }
    finally(function() s:cleanup() end)
    local _, _, ib = s:request{ method = "POST", key = "p.bin", query = { { "uploads" } } }
    local id = ib:match("<UploadId>(.-)</UploadId>")
    local codes = {}
    for _, n in ipairs({ 1, 2, 3, 3, 2, 4, 3 }) do
      codes[#codes + 1] = (s:request{ method = "PUT", key = "p.bin", query = { { "partNumber", tostring(n) }, { "uploadId", id } }, body = "p" })
    end
    assert.are.same({ 200, 503, 200, 500, 503, 200, 200 }, codes)
  end)

  it("refuses contradictory or malformed new fault keys at start-up", function()
    for _, spec in ipairs({ "op=PutObject,drop-response,status=500", "op=PutObject,etag=bogus,no-etag",
      "op=UploadPart,part=0,status=500", "op=PutObject,etag=", "op=PutObject,crc64=" }) do
      local out, ok = cosd.capture("timeout 5 " .. cosd.sh_quote(cosd.bin) .. " --data /tmp/cosd-bad-fault --fault " .. cosd.sh_quote(spec) .. " 2>&1")
      assert.is_falsy(ok, spec)
      assert.truthy(out:find("fault:", 1, true), out)
    end
    cosd.exec("rm -rf /tmp/cosd-bad-fault")
  end)
end)

describe("cosd concurrency and limits", function()
  local s
  setup(function() s = cosd.start() end)
  teardown(function() s:cleanup() end)

  it("serves 64 parallel connections", function()
    local host = cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com"
    local sh = {}
    for i = 1, 64 do
      local auth = cosd.capture(cosd.tools .. "/cos-sign --method PUT --path /par/" .. i .. " --header host:" .. host):gsub("%s+$", "")
      sh[#sh + 1] = "curl -s -o /dev/null -w '%{http_code}\\n' --limit-rate 100k -X PUT -H 'Host: " .. host .. "' -H " ..
        cosd.sh_quote("Authorization: " .. auth) .. " --data-binary @" .. s.dir .. "/pbody http://127.0.0.1:" .. s.port ..
        "/par/" .. i .. " >> " .. s.dir .. "/par.out &"
    end
    cosd.exec("head -c 60000 /dev/urandom > " .. s.dir .. "/pbody")
    cosd.exec(table.concat(sh, "\n") .. "\nwait")
    local _, n = (cosd.read_file(s.dir .. "/par.out") or ""):gsub("200", "")
    assert.are.equal(64, n)
    local _, _, body = s:request{ query = { { "prefix", "par/" } } }
    local _, nk = body:gsub("<Key>", "")
    assert.are.equal(64, nk)
  end)

  it("refuses oversized headers without crashing", function()
    local st = s:request{ key = "x", headers = { ["x-big"] = string.rep("a", 100000) } }
    assert.is_true(st >= 400 or st == 0)
    assert.are.equal(404, (s:request{ key = "still-alive" }))
  end)

  it("survives garbage on the socket", function()
    cosd.exec("printf 'GARBAGE\\r\\n\\r\\n' | timeout 2 curl -s telnet://127.0.0.1:" .. s.port .. " >/dev/null 2>&1")
    cosd.exec("printf 'PUT /x HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: zz\\r\\n\\r\\n' | timeout 2 curl -s telnet://127.0.0.1:" .. s.port .. " >/dev/null 2>&1")
    assert.are.equal(404, (s:request{ key = "still-alive" }))
  end)
end)

describe("cosd TLS", function()
  it("serves HTTPS with --tls-cert/--tls-key", function()
    local dir = cosd.tmpdir()
    local ok = cosd.exec("openssl req -x509 -newkey rsa:2048 -nodes -keyout " .. dir .. "/key.pem -out " .. dir ..
      "/cert.pem -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1")
    assert.is_true(ok)
    local s = cosd.start{ extra = { "--tls-cert", dir .. "/cert.pem", "--tls-key", dir .. "/key.pem" } }
    assert.truthy(cosd.read_file(s.stdout):match("^cosd listening on https://127%.0%.0%.1:%d+"))
    local host = cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com"
    local auth = cosd.capture(cosd.tools .. "/cos-sign --method PUT --path /tls.txt --header host:" .. host):gsub("%s+$", "")
    local out = cosd.capture("curl -sk -o /dev/null -w '%{http_code}' -X PUT --data-binary tls -H 'Host: " .. host .. "' -H " ..
      cosd.sh_quote("Authorization: " .. auth) .. " https://127.0.0.1:" .. s.port .. "/tls.txt")
    assert.are.equal("200", out)
    s:cleanup()
    cosd.exec("rm -rf " .. dir)
  end)
end)
