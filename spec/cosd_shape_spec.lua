-- cosd shaping: x-cos-traffic-limit applied (the body is paced at the requested bits per second),
-- --bandwidth and --latency for testing progress and timeouts offline.
-- Durations are checked only from below (a paced transfer cannot be faster than its rate, however
-- loaded the machine is); nothing here asserts that something is fast.
local cosd = require "support.cosd"
local U = require "support.upload_util"

local KIB = 1024
local LIMIT = "819200" -- bits per second: 100 KiB/s, COS's smallest limit

local function timed(fn)
  local t0 = U.now()
  local a, b, c = fn()
  return U.now() - t0, a, b, c
end

local function md5(dir, s)
  U.write(dir .. "/md5.in", s)
  return cosd.capture("md5sum " .. cosd.sh_quote(dir .. "/md5.in")):match("^(%x+)")
end

-- A signed `curl -X PUT` of file to key, run in the background; its HTTP status lands in out.
local function background_put(s, key, file, out, headers)
  local host = cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com"
  local auth = cosd.capture(cosd.sh_quote(cosd.tools .. "/cos-sign") .. " --method PUT --path " .. cosd.sh_quote("/" .. key) ..
    " --header " .. cosd.sh_quote("host:" .. host)):gsub("%s+$", "")
  local args = { "curl -s -o /dev/null -w '%{http_code}' -X PUT", "-H " .. cosd.sh_quote("Host: " .. host),
    "-H " .. cosd.sh_quote("Authorization: " .. auth), "-H 'Content-Type:'", "--data-binary @" .. cosd.sh_quote(file) }
  for k, v in pairs(headers or {}) do args[#args + 1] = "-H " .. cosd.sh_quote(k .. ": " .. v) end
  args[#args + 1] = cosd.sh_quote("http://127.0.0.1:" .. s.port .. "/" .. key)
  cosd.exec("(" .. table.concat(args, " ") .. " > " .. cosd.sh_quote(out) .. ".tmp; mv " .. cosd.sh_quote(out) .. ".tmp " ..
    cosd.sh_quote(out) .. ") >/dev/null 2>&1 &")
end

local function wait_file(path, timeout)
  local deadline = U.now() + timeout
  while U.now() < deadline do
    local v = cosd.read_file(path)
    if v then return v end
    os.execute("sleep 0.05")
  end
  return nil
end

local function logged(s, method, target)
  for _, l in ipairs(s:access_log()) do
    if l.method == method and l.target == target then return l end
  end
  return nil
end

describe("cosd x-cos-traffic-limit", function()
  local s
  setup(function() s = cosd.start() end)
  teardown(function() s:cleanup() end)

  it("paces a PUT at the requested rate without holding up other connections", function()
    local file = s.dir .. "/half.bin"
    cosd.exec("head -c 524288 /dev/urandom > " .. cosd.sh_quote(file))
    local out = s.dir .. "/slow.status"
    local t0 = U.now()
    background_put(s, "slow.bin", file, out, { ["x-cos-traffic-limit"] = LIMIT })
    -- 512 KiB at 100 KiB/s takes 5 s: meanwhile other requests are answered
    assert.are.equal(200, (s:request { method = "PUT", key = "quick.txt", body = "quick" }))
    local st, _, body = s:request { key = "quick.txt" }
    assert.are.equal(200, st)
    assert.are.equal("quick", body)
    assert.are.equal(200, (s:request { method = "HEAD", key = "quick.txt" }))
    assert.is_nil(logged(s, "PUT", "/slow.bin"), "the paced PUT is still being received")
    assert.are.equal("200", wait_file(out, 90))
    assert.is_true(U.now() - t0 >= 524288 / (100 * KIB) * 0.9)
    local got = s.dir .. "/slow.got"
    assert.are.equal(200, (s:request { key = "slow.bin", out_file = got }))
    assert.is_true(U.same_file(file, got))
  end)

  it("paces Upload Part and Append", function()
    local body = ("p"):rep(200 * KIB)
    local st, _, xml = s:request { method = "POST", key = "mp.bin", query = { { "uploads" } } }
    assert.are.equal(200, st)
    local id = xml:match("<UploadId>(.-)</UploadId>")
    local dt, pst, ph = timed(function()
      return s:request { method = "PUT", key = "mp.bin", query = { { "partNumber", "1" }, { "uploadId", id } }, body = body,
        headers = { ["x-cos-traffic-limit"] = LIMIT } }
    end)
    assert.are.equal(200, pst)
    assert.are.equal('"' .. md5(s.dir, body) .. '"', ph.etag)
    assert.is_true(dt >= 2.0 * 0.9, dt)
    local adt, ast = timed(function()
      return s:request { method = "POST", key = "ap.bin", query = { { "append" }, { "position", "0" } }, body = body,
        headers = { ["x-cos-traffic-limit"] = LIMIT } }
    end)
    assert.are.equal(200, ast)
    assert.is_true(adt >= 2.0 * 0.9, adt)
  end)

  it("paces a GET, and refuses an out-of-range value there too", function()
    local body = ("g"):rep(200 * KIB)
    assert.are.equal(200, (s:request { method = "PUT", key = "g.bin", body = body }))
    local dt, st, _, got = timed(function()
      return s:request { key = "g.bin", headers = { ["x-cos-traffic-limit"] = LIMIT } }
    end)
    assert.are.equal(200, st)
    assert.are.equal(#body, #got)
    assert.are.equal(body, got)
    assert.is_true(dt >= 2.0 * 0.9, dt)
    -- a range is paced as well, and keeps its bytes
    local _, rst, _, part = timed(function()
      return s:request { key = "g.bin", headers = { ["x-cos-traffic-limit"] = LIMIT, Range = "bytes=10-19" } }
    end)
    assert.are.equal(206, rst)
    assert.are.equal(("g"):rep(10), part)
    for _, bad in ipairs({ "819199", "838860801", "fast", "" }) do
      local bst, _, bbody = s:request { key = "g.bin", headers = { ["x-cos-traffic-limit"] = bad },
        extra_curl = bad == "" and "-H 'x-cos-traffic-limit;'" or nil }
      assert.are.equal(400, bst, bad)
      assert.are.equal("InvalidArgument", cosd.err_code(bbody), bad)
    end
  end)
end)

describe("cosd --bandwidth and --latency", function()
  it("--bandwidth paces every request body and GET body, each request at the full rate", function()
    local s = cosd.start { extra = { "--bandwidth", "102400" } }
    local body = ("b"):rep(150 * KIB)
    local dt, st = timed(function() return s:request { method = "PUT", key = "bw.bin", body = body } end)
    assert.are.equal(200, st)
    assert.is_true(dt >= 1.5 * 0.9, dt)
    local gdt, gst, _, got = timed(function() return s:request { key = "bw.bin" } end)
    assert.are.equal(200, gst)
    assert.are.equal(body, got)
    assert.is_true(gdt >= 1.5 * 0.9, gdt)
    -- a lower x-cos-traffic-limit wins over the bandwidth ... (a higher one does not speed it up)
    local ldt = timed(function()
      return s:request { method = "PUT", key = "bw2.bin", body = body, headers = { ["x-cos-traffic-limit"] = "838860800" } }
    end)
    assert.is_true(ldt >= 1.5 * 0.9, ldt)
    s:cleanup()
  end)

  it("--bandwidth keeps a client's progress close to the pace, so a test can act in the middle", function()
    local s = cosd.start { extra = { "--bandwidth", "524288" } }
    local cos = require("cos").new(s:client_options { ProgressInterval = 1 })
    local size = 4 * 1024 * KIB
    local seen, t0 = {}, U.now()
    local done
    cos:putObject({ Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "progress.bin", Body = ("p"):rep(size),
      onProgress = function(p) seen[#seen + 1] = { t = U.now() - t0, loaded = p.loaded } end },
      function(err, data) done = { err = err, data = data } end)
    cos:run()
    assert.is_nil(done.err)
    local middle = 0
    for _, e in ipairs(seen) do
      -- never more than the pace plus what the client and its kernel buffer (about 1 MiB measured)
      assert.is_true(e.loaded <= 524288 * e.t + 2 * 1024 * KIB, ("%d bytes after %.2f s"):format(e.loaded, e.t))
      if e.loaded > 0 and e.loaded < size then middle = middle + 1 end
    end
    assert.is_true(middle >= 3, "progress reported in the middle " .. middle .. " times")
    cos:close()
    s:cleanup()
  end)

  it("--latency delays each request, errors included", function()
    local s = cosd.start { extra = { "--latency", "400" } }
    local dt, st = timed(function() return s:request { method = "PUT", key = "l.txt", body = "l" } end)
    assert.are.equal(200, st)
    assert.is_true(dt >= 0.4 * 0.9, dt)
    local edt, est = timed(function() return s:request { key = "missing.txt" } end)
    assert.are.equal(404, est)
    assert.is_true(edt >= 0.4 * 0.9, edt)
    s:cleanup()
  end)

  it("refuses bad values at start-up", function()
    for _, args in ipairs({ { "--bandwidth", "10" }, { "--bandwidth", "fast" }, { "--latency", "-1" }, { "--latency", "x" } }) do
      local out, ok = cosd.capture(cosd.sh_quote(cosd.bin) .. " --listen 127.0.0.1:0 --data /nonexistent/never " ..
        args[1] .. " " .. args[2] .. " 2>&1")
      assert.is_falsy(ok, args[2])
      assert.truthy(out:find(args[1], 1, true), out)
    end
  end)

  it("stops promptly in the middle of a paced upload and keeps no partial object", function()
    local s = cosd.start { extra = { "--bandwidth", "10240" } }
    local file = s.dir .. "/big.bin"
    cosd.exec("head -c 524288 /dev/urandom > " .. cosd.sh_quote(file))
    local out = s.dir .. "/cut.status"
    background_put(s, "cut.bin", file, out)
    -- wait until the body is streaming into cosd's temporary file (50 s at this rate), then stop cosd
    local deadline = U.now() + 30
    while U.now() < deadline and cosd.capture("ls " .. cosd.sh_quote(s.data .. "/tmp")) == "" do os.execute("sleep 0.05") end
    s:stop()
    assert.are.equal("000", wait_file(out, 30)) -- cut off, unanswered
    s:restart()
    assert.are.equal(404, (s:request { method = "HEAD", key = "cut.bin" }))
    s:cleanup()
  end)
end)
