-- cosd: POST Object (HTML form upload with a signed policy).
local cosd = require("support.cosd")

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%S.000Z", t) end

describe("cosd POST Object", function()
  local s
  setup(function() s = cosd.start() end)
  teardown(function() s:cleanup() end)

  -- posts a form; fields is a list of {name, value}; the file goes last
  local function post(fields_fn, opts)
    opts = opts or {}
    local now = os.time()
    local kt = opts.key_time or ((now - 1) .. ";" .. (now + 600))
    local conds = opts.conditions or {
      '{"bucket":"' .. cosd.BUCKET .. '"}', '["starts-with","$key","up/"]', '{"q-sign-algorithm":"sha1"}',
      '{"q-ak":"' .. cosd.SECRET_ID .. '"}', '{"q-sign-time":"' .. kt .. '"}', '["content-length-range",1,1000]' }
    local policy = opts.policy or ('{"expiration":"' .. iso(opts.expiration or (now + 600)) .. '","conditions":[' .. table.concat(conds, ",") .. ']}')
    local pf = s.dir .. "/policy.json"
    local f = io.open(pf, "wb"); f:write(policy); f:close()
    local sig = cosd.capture(cosd.tools .. "/cos-sign --post-policy " .. pf .. " --key-time " .. cosd.sh_quote(kt)
      .. (opts.secret and (" --key " .. opts.secret) or "")):gsub("%s+$", "")
    local b64 = cosd.capture("base64 -w0 " .. pf)
    local fields = { { "key", opts.key or "up/${filename}" }, { "policy", b64 }, { "q-sign-algorithm", "sha1" },
      { "q-ak", cosd.SECRET_ID }, { "q-key-time", kt }, { "q-signature", sig } }
    if fields_fn then fields_fn(fields) end
    local ff = s.dir .. "/upload.txt"
    f = io.open(ff, "wb"); f:write(opts.content or "form body"); f:close()
    local args = { "curl -s -o " .. s.dir .. "/post.out -D " .. s.dir .. "/post.hdr -w '%{http_code}'",
      "-H 'Host: " .. cosd.BUCKET .. ".cos." .. cosd.REGION .. ".myqcloud.com'" }
    for _, kv in ipairs(fields) do args[#args + 1] = "--form-string " .. cosd.sh_quote(kv[1] .. "=" .. kv[2]) end
    args[#args + 1] = "-F " .. cosd.sh_quote("file=@" .. ff .. ";filename=photo.txt")
    args[#args + 1] = "http://127.0.0.1:" .. s.port .. "/"
    local st = tonumber((cosd.capture(table.concat(args, " "))))
    local hdr = {}
    for line in (cosd.read_file(s.dir .. "/post.hdr") or ""):gmatch("[^\r\n]+") do
      local k, v = line:match("^([^:]+):%s*(.-)%s*$")
      if k then hdr[k:lower()] = v end
    end
    return st, hdr, cosd.read_file(s.dir .. "/post.out") or ""
  end

  it("stores the file under the ${filename} key with form metadata (204 by default)", function()
    local st, h = post(function(f) table.insert(f, { "Content-Type", "text/x-form" }); table.insert(f, { "x-cos-meta-src", "form" }) end)
    assert.are.equal(204, st)
    assert.are.equal('"' .. cosd.capture("printf 'form body' | md5sum"):match("^(%x+)") .. '"', h.etag)
    local st2, h2, body = s:request{ key = "up/photo.txt" }
    assert.are.equal(200, st2)
    assert.are.equal("form body", body)
    assert.are.equal("text/x-form", h2["content-type"])
    assert.are.equal("form", h2["x-cos-meta-src"])
  end)

  it("honours success_action_status and success_action_redirect", function()
    local st = post(function(f) table.insert(f, { "success_action_status", "201" }) end)
    assert.are.equal(201, st)
    local st2, h2 = post(function(f) table.insert(f, { "success_action_redirect", "https://example.com/done" }) end)
    assert.are.equal(303, st2)
    assert.truthy(h2.location:find("^https://example%.com/done%?bucket=examplebucket%-1250000000&key=up%%2Fphoto%.txt&etag=%%22%x+%%22$"))
  end)

  it("rejects a wrong signature, an expired policy, failed conditions and sizes out of range", function()
    local st, _, body = post(nil, { secret = "wrongsecretwrongsecretwrongsecre" })
    assert.are.equal(403, st)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body))
    st, _, body = post(nil, { expiration = os.time() - 60 })
    assert.are.equal(403, st)
    assert.are.equal("AccessDenied", cosd.err_code(body))
    st, _, body = post(nil, { key = "other/${filename}" })
    assert.are.equal(403, st)
    assert.are.equal("AccessDenied", cosd.err_code(body))
    st, _, body = post(nil, { content = string.rep("x", 2000) })
    assert.are.equal(400, st)
    assert.are.equal("EntityTooLarge", cosd.err_code(body))
    st, _, body = post(function(f) f[6][2] = "0000000000000000000000000000000000000000" end)
    assert.are.equal(403, st)
    assert.are.equal(404, (s:request{ key = "other/photo.txt" }))
  end)

  it("supports eq conditions on form fields", function()
    local now = os.time()
    local kt = (now - 1) .. ";" .. (now + 600)
    local st = post(function(f) table.insert(f, { "x-cos-meta-a", "b" }) end,
      { key_time = kt, conditions = { '["eq","$x-cos-meta-a","b"]', '{"q-sign-time":"' .. kt .. '"}' } })
    assert.are.equal(204, st)
    st = post(function(f) table.insert(f, { "x-cos-meta-a", "c" }) end,
      { key_time = kt, conditions = { '["eq","$x-cos-meta-a","b"]' } })
    assert.are.equal(403, st)
  end)

  it("derives Content-Type from the key when the form has none (the file part's own type is ignored)", function()
    assert.are.equal(204, (post(nil, { key = "up/archive.zip" })))
    local _, h = s:request{ method = "HEAD", key = "up/archive.zip" }
    assert.are.equal("application/zip", h["content-type"])
    assert.are.equal(204, (post(function(f) table.insert(f, { "Content-Type", "" }) end, { key = "up/${filename}" })))
    _, h = s:request{ method = "HEAD", key = "up/photo.txt" }
    assert.are.equal("text/plain", h["content-type"])
  end)

  it("refuses a key that resolves to the bucket root", function()
    local st, _, body = post(nil, { key = "up/..", conditions = {} })
    assert.are.equal(400, st)
    assert.are.equal("InvalidObjectName", cosd.err_code(body))
  end)

  it("paces the file at the x-cos-traffic-limit field, and refuses one out of range", function()
    local content = ("f"):rep(150 * 1024)
    local t0 = os.time()
    local socket_ok, socket = pcall(require, "socket")
    if socket_ok then t0 = socket.gettime() end
    local st = post(function(f) table.insert(f, { "x-cos-traffic-limit", "819200" }) end,
      { content = content, conditions = {} })
    local dt = (socket_ok and socket.gettime() or os.time()) - t0
    assert.are.equal(204, st)
    assert.is_true(dt >= 1.5 * 0.9, dt) -- 150 KiB at 100 KiB/s: never faster, however loaded the machine
    local _, _, got = s:request{ key = "up/photo.txt" }
    assert.are.equal(content, got)
    local bst, _, body = post(function(f) table.insert(f, { "x-cos-traffic-limit", "100" }) end, { conditions = {} })
    assert.are.equal(400, bst)
    assert.are.equal("InvalidArgument", cosd.err_code(body))
  end)

  it("refuses a validly signed policy that is not a JSON policy document (400 InvalidPolicyDocument)", function()
    -- '"\\' is JSON that ends inside a string right after a backslash (once read past the end)
    for _, policy in ipairs{ '"\\', '{"expiration":"\\', '{"expiration":"2099-01-01T00:00:00Z","conditions":[',
      '{"expiration":"2099-01-01T00:00:00Z","conditions":{}}', '["expiration"]', '{"expiration":"soon","conditions":[]}',
      '{"expiration":"2099-01-01T00:00:00Z","conditions":[["eq","$key"]]}', '{"expiration":"2099-01-01T00:00:00Z"}garbage',
      '{"expiration":"2099-01-01T00:00:00Z","conditions":[{"bucket":"\\u0000"}]}', '\255\254' } do
      local st, _, body = post(nil, { policy = policy, key = "up/bad-${filename}" })
      assert.are.equal(400, st, policy)
      assert.are.equal("InvalidPolicyDocument", cosd.err_code(body), policy)
    end
    assert.are.equal(404, (s:request{ key = "up/bad-photo.txt" }))
  end)

  it("refuses metadata fields it cannot store exactly (400 InvalidArgument) and keeps UTF-8 ones", function()
    for _, kv in ipairs{ { "x-cos-meta-a b", "v" }, { "x-cos-meta-ctl", "a\1b" }, { "x-cos-meta-cr", "a\rb" } } do
      local st, _, body = post(function(f) table.insert(f, kv) end, { key = "up/meta-${filename}" })
      assert.are.equal(400, st, kv[1])
      assert.are.equal("InvalidArgument", cosd.err_code(body), kv[1])
      assert.are.equal(404, (s:request{ key = "up/meta-photo.txt" }))
    end
    assert.are.equal(204, (post(function(f) table.insert(f, { "x-cos-meta-u", "caf\195\169\tok" }) end, { key = "up/meta-${filename}" })))
    local st, h = s:request{ method = "HEAD", key = "up/meta-photo.txt" }
    assert.are.equal(200, st)
    assert.are.equal("caf\195\169\tok", h["x-cos-meta-u"])
  end)
end)
