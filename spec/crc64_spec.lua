-- CRC-64/XZ (csrc/common/crc64.c): the carry-less multiplication path against the table path.
-- The work is done by the C tool crc64-check (csrc/tools/crc64-check.c): known vectors, every
-- length 0..4096 at random offsets, MiB-sized buffers, chunked updates and cos_crc64_combine.
local cosd = require("support.cosd")

describe("crc64", function()
  it("fast path matches the table path and the known vectors (crc64-check)", function()
    local tools = os.getenv("COS_TOOLS") or "build/bin"
    local out, ok = cosd.capture(cosd.sh_quote(tools .. "/crc64-check") .. " 2>&1")
    assert.is_truthy(out:match("crc64%-check: ok"), out)
    assert.is_true(ok, out)
  end)
end)
