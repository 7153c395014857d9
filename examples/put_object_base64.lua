-- putObject, "Upload a Base64-encoded string as the file content": a data URL (here a 1x1 PNG)
-- decoded to bytes. The module has no base64 decoder of its own, so a small one is below.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local cos = env.COS.new(env.options())

-- Buffer.from(s, 'base64'): ignores characters outside the alphabet, stops at '='.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64_decode(s)
  local out, acc, bits = {}, 0, 0
  for c in s:gsub("=.*$", ""):gmatch("[%w%+/]") do
    acc = acc % 256 * 64 + (B64:find(c, 1, true) - 1) -- arithmetic, so it runs on Lua 5.1 too
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char(math.floor(acc / 2 ^ bits) % 256)
    end
  end
  return table.concat(out)
end

local base64Url = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
-- Convert to bytes for upload: base64Url.split(',')[1]
local body = base64_decode(base64Url:match(",(.*)$"))
env.expect(body:sub(1, 8) == "\137PNG\r\n\26\n", "decoded body is a PNG")
cos:putObject({
  Bucket = env.Bucket, -- Required
  Region = env.Region, -- Required
  Key = "1.png",       -- Required
  Body = body,
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
