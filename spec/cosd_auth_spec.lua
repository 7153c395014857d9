-- cosd: q-sign verification (header and pre-signed URL), time window, anonymous access.
local cosd = require("support.cosd")

describe("cosd signatures", function()
  local s
  setup(function()
    s = cosd.start()
    assert.are.equal(200, (s:request{ method = "PUT", key = "private.txt", body = "secret" }))
    assert.are.equal(200, (s:request{ method = "PUT", key = "public.txt", body = "open",
      headers = { ["x-cos-acl"] = "public-read" }, sign_headers = { "x-cos-acl" } }))
  end)
  teardown(function() s:cleanup() end)

  it("rejects an unknown SecretId with InvalidAccessKeyId", function()
    local st, _, body = s:request{ key = "private.txt", id = "AKIDunknown000000000000000000000000" }
    assert.are.equal(403, st)
    assert.are.equal("InvalidAccessKeyId", cosd.err_code(body))
  end)

  it("rejects a wrong key with SignatureDoesNotMatch, echoing StringToSign and FormatString", function()
    local st, _, body = s:request{ key = "private.txt", key_secret = "wrongsecretwrongsecretwrongsecre" }
    assert.are.equal(403, st)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body))
    assert.truthy(body:find("<Message>The Signature you specified is invalid.</Message>", 1, true))
    assert.truthy(body:find("<StringToSign>sha1\n", 1, true))
    assert.truthy(body:find("<FormatString>get\n/private.txt\n\nhost=examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com\n</FormatString>", 1, true))
  end)

  it("rejects a request whose signed header was changed", function()
    local st, _, body = s:request{ method = "PUT", key = "h.txt", body = "x", headers = { ["x-cos-meta-a"] = "2" },
      sign_headers = { "x-cos-meta-a:1" } }
    assert.are.equal(403, st)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body))
  end)

  it("rejects an expired signature with AccessDenied 'Request has expired' and ServerTime", function()
    local now = os.time()
    local st, _, body = s:request{ key = "private.txt", key_time = (now - 1000) .. ";" .. (now - 100) }
    assert.are.equal(403, st)
    assert.are.equal("AccessDenied", cosd.err_code(body))
    assert.truthy(body:find("<Message>Request has expired</Message>", 1, true))
    assert.truthy(body:find("<ServerTime>%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ</ServerTime>"))
  end)

  it("rejects a start time more than 15 minutes ahead with RequestTimeTooSkewed", function()
    local now = os.time()
    local st, _, body = s:request{ key = "private.txt", key_time = (now + 1800) .. ";" .. (now + 3600) }
    assert.are.equal(403, st)
    assert.are.equal("RequestTimeTooSkewed", cosd.err_code(body))
  end)

  it("refuses anonymous reads of private objects and allows public-read ones", function()
    local st, _, body = s:request{ key = "private.txt", sign = false }
    assert.are.equal(403, st)
    assert.are.equal("AccessDenied", cosd.err_code(body))
    local st2, _, body2 = s:request{ key = "public.txt", sign = false }
    assert.are.equal(200, st2)
    assert.are.equal("open", body2)
    local st3 = s:request{ method = "PUT", key = "public.txt", body = "overwrite", sign = false }
    assert.are.equal(403, st3)
  end)

  it("accepts a pre-signed URL (q-sign-* in the query)", function()
    local st, _, body = s:request{ key = "private.txt", sign = "query", query = { { "response-content-type", "text/x" } } }
    assert.are.equal(200, st)
    assert.are.equal("secret", body)
    local st2, _, body2 = s:request{ key = "private.txt", sign = "query", key_secret = "wrongsecretwrongsecretwrongsecre" }
    assert.are.equal(403, st2)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body2))
  end)

  it("verifies signed query parameters", function()
    local st = s:request{ key = "private.txt", query = { { "response-cache-control", "no-cache" } } }
    assert.are.equal(200, st)
    -- a signed parameter whose value changed on the wire
    local st2, _, body2 = s:request{ key = "private.txt", query = { { "response-cache-control", "no-cache" } },
      tamper = function(a) return a end, raw_target = "/private.txt?response-cache-control=max-age" }
    assert.are.equal(403, st2)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body2))
  end)

  it("accepts x-cos-security-token with valid credentials", function()
    local st = s:request{ key = "private.txt", headers = { ["x-cos-security-token"] = "any-token" } }
    assert.are.equal(200, st)
  end)
end)
