-- "Uploading object by using HTML form" (POST Object). The Node SDK has no method for it and
-- points to a browser form ("Solution B"); lua-cos has both halves:
--   COS.getPostPolicy(opts): the signed form fields a web page gives the browser, and
--   cos:postObject(params, callback): the same form upload from Lua.
-- Runs against real COS with COS_SECRETID/COS_SECRETKEY/COS_BUCKET/COS_REGION, else a local cosd.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local env = dofile(here .. "/example_env.lua")
local options = env.options()
local cos = env.COS.new(options)

-- The form a server would hand to a browser: url and fields (key, policy, q-signature, ...).
local policy, perr = env.COS.getPostPolicy {
  SecretId = options.SecretId, SecretKey = options.SecretKey,
  Bucket = env.Bucket, Region = env.Region, Key = "form/1.txt", Expires = 600, Protocol = options.Protocol,
}
env.expect(policy, "getPostPolicy: " .. tostring(perr and perr.message))
if policy then
  print("POST " .. policy.url)
  for name, value in pairs(policy.fields) do print(("  %-18s %s"):format(name, value)) end
end

-- The upload itself, from Lua: a multipart/form-data POST of the body.
cos:postObject({
  Bucket = env.Bucket, -- Your bucket (required)
  Region = env.Region, -- Bucket region (required), such as ap-beijing
  Key = "form/1.txt",  -- Object key stored in the bucket (required)
  Body = "hello from a form!",
  onProgress = function(progressData)
    print(env.json(progressData))
  end,
}, function(err, data)
  env.log(err, data)
end)
cos:run()

cos:close()
env.exit()
