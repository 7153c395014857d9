-- What a user reads when something goes wrong: the network code of the last attempt whatever the
-- retry count (with the number of attempts), a code printed once, hints where the cause is
-- obvious, nested errors printing like top-level ones, and an Ip option that is not a URL.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

-- A host name that cannot resolve without asking any server: a 70-byte label exceeds DNS's 63,
-- so the resolver refuses it locally (no traffic leaves the machine).
local UNRESOLVABLE = ("a"):rep(70) .. ".invalid"

-- Answers every connection's first bytes with "400 Bad Request"; ends after 30 s by itself.
local PLAIN_HTTP = [[
local uv = require "luv"
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", 0))
server:listen(8, function()
  local c = uv.new_tcp()
  server:accept(c)
  c:read_start(function(_, data)
    if data then c:write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", function() c:close() end) end
  end)
end)
local f = io.open(os.getenv("PORT_FILE") .. ".tmp", "w")
f:write(server:getsockname().port)
f:close()
os.rename(os.getenv("PORT_FILE") .. ".tmp", os.getenv("PORT_FILE"))
local t = uv.new_timer()
t:start(30000, 0, function() uv.stop() end)
uv.run()
]]

local function head(cos)
  return cos:headObject { Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "k" }
end

describe("network errors", function()
  for _, retries in ipairs { 0, 1, 3 } do
    it("a Domain that does not resolve is ENOTFOUND with RetryTimes = " .. retries, function()
      local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Protocol = "http:",
        Domain = UNRESOLVABLE, RetryTimes = retries }
      local _, err = head(cos)
      cos:close()
      assert.are.equal("ENOTFOUND", err.code, tostring(err))
      assert.truthy(err.message:find(UNRESOLVABLE, 1, true), err.message)
      if retries > 0 then
        assert.truthy(err.message:find("after " .. (retries + 1) .. " attempts", 1, true), err.message)
        assert.are.equal(retries + 1, err.attempts)
      else
        assert.falsy(err.message:find("attempts", 1, true), err.message)
      end
    end)
  end

  it("a closed port is ECONNREFUSED after every attempt, and prints its code once", function()
    local srv = cosd.start()
    local endpoint = srv.endpoint
    srv:cleanup() -- nothing listens there any more
    local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Protocol = "http:",
      Ip = endpoint, RetryTimes = 2 }
    local _, err = head(cos)
    cos:close()
    assert.are.equal("ECONNREFUSED", err.code)
    assert.truthy(err.message:find("after 3 attempts", 1, true), err.message)
    local text = tostring(err)
    local _, n = text:gsub("ECONNREFUSED", "")
    assert.are.equal(1, n, text)
  end)

  it("Ip given as a URL is refused by COS.new, naming Ip", function()
    for _, bad in ipairs { "http://127.0.0.1:9000", "127.0.0.1:9000/", "127.0.0.1:http", "127.0.0.1:0" } do
      local ok, e = pcall(COS.new, { Ip = bad })
      assert.is_false(ok, bad)
      assert.truthy(tostring(e):find("Ip", 1, true), tostring(e))
    end
    for _, good in ipairs { "127.0.0.1:9000", "127.0.0.1", "[::1]:9000", "cos.example.com" } do
      COS.new({ Ip = good }):close()
    end
  end)
end)

describe("hints", function()
  local srv, dir
  setup(function()
    srv = cosd.start()
    dir = U.tmpdir()
  end)
  teardown(function()
    srv:cleanup()
    U.rmdir(dir)
  end)

  it("SignatureDoesNotMatch points at the keys and the clock", function()
    local cos = COS.new(srv:client_options { SecretKey = ("x"):rep(32) })
    local _, err = cos:putObject { Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "k", Body = "x" }
    cos:close()
    assert.are.equal("SignatureDoesNotMatch", err.code)
    assert.truthy(err.hint and err.hint:find("SecretKey", 1, true) and err.hint:find("clock", 1, true), err.hint)
    assert.truthy(tostring(err):find("hint:", 1, true), tostring(err))
  end)

  it("https to a plain-HTTP server says to use http:", function()
    -- a plain HTTP server that answers anything with 400 (as most do to a TLS ClientHello)
    local script, port_file = dir .. "/plain.lua", dir .. "/plain.port"
    U.write(script, PLAIN_HTTP)
    local pid = U.spawn(script, dir .. "/plain.out", "env PORT_FILE=" .. cosd.sh_quote(port_file) .. " " .. cosd.LUA)
    local port
    for _ = 1, 200 do
      port = tonumber(cosd.read_file(port_file) or "")
      if port then break end
      os.execute("sleep 0.025")
    end
    assert.truthy(port, "the plain HTTP server did not start")
    local cos = COS.new(srv:client_options { Protocol = "https:", RetryTimes = 0, Ip = "127.0.0.1:" .. port })
    local _, err = head(cos)
    cos:close()
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.are.equal("ETLS", err.code, tostring(err))
    assert.truthy(err.hint and err.hint:find("http:", 1, true), tostring(err))
  end)

  it("a failed sliceUploadFile with parts on the server says a re-run resumes it", function()
    local s2 = cosd.start { faults = { "op=UploadPart,nth=3,times=100,status=503" } }
    local cos = COS.new(s2:client_options { ChunkRetryTimes = 0, RetryTimes = 0, CheckpointDir = dir .. "/ck" })
    local path = U.random_file(dir .. "/f.bin", 4 * U.MIB)
    local _, err = cos:sliceUploadFile(U.params("f.bin", { FilePath = path, AsyncLimit = 1 }))
    cos:close()
    s2:cleanup()
    assert.truthy(err)
    assert.truthy(err.UploadId and err.UploadId ~= "")
    assert.truthy(err.hint and err.hint:find("resum", 1, true), tostring(err))
  end)
end)

describe("nested errors", function()
  local srv, cos, dir
  setup(function() srv, cos, dir = cosd.open { RetryTimes = 0 } end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("data.files[i].error and getTaskList()[i].error print like top-level errors", function()
    local ok_path = dir .. "/ok.txt"
    U.write(ok_path, "ok")
    local files = {
      { Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "ok.txt", FilePath = ok_path },
      { Bucket = "nosuchbucket-1250000000", Region = cosd.REGION, Key = "x.txt", FilePath = ok_path },
    }
    local data = assert(cos:uploadFiles { files = files })
    local e = data.files[2].error
    assert.truthy(e)
    assert.are.equal(getmetatable(e), COS.Error)
    assert.truthy(tostring(e):find("^cos error NoSuchBucket"), tostring(e))
    local seen = false
    for _, t in ipairs(cos:getTaskList()) do
      if t.error then
        seen = true
        assert.truthy(tostring(t.error):find("^cos error "), tostring(t.error))
      end
    end
    assert.is_true(seen)
  end)
end)
