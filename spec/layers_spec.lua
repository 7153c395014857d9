-- The core's layering (docs/architecture.md): each file of csrc/core calls only functions of its
-- own folder and of the folders below it, and no two files call each other, directly or through
-- others. Read from the symbols of the compiled objects (nm), so a call counts however it is
-- declared. This check fails the test command on any new circle or upward call.
local layers = require "support.layers"

describe("csrc/core layering", function()
  local graph = layers.graph(os.getenv("COS_BUILD") or "build")

  it("finds the core's objects and their calls", function()
    assert.is_true(graph.files >= 20, "expected the core's object files, found " .. graph.files)
    assert.is_true(graph.edges >= 20, "expected calls between core files, found " .. graph.edges)
  end)

  it("has no call from a lower layer to a higher one", function()
    local bad = layers.upward(graph)
    assert.are.same({}, bad)
  end)

  it("has no dependency circle between files", function()
    local circles = layers.circles(graph)
    assert.are.same({}, circles)
  end)

  it("names every exported function by its file (cos.h's public names aside)", function()
    local public = layers.public_names("csrc/include/cos.h")
    assert.is_true(public.cos_poll and public.cos_start and true or false)
    assert.are.same({}, layers.misnamed(graph, public))
  end)

  it("each header declares only its own file's functions", function()
    assert.are.same({}, layers.stray_declarations(graph))
  end)

  it("the check itself sees a circle and an upward call", function()
    local g = layers.from_edges({
      ["base/a"] = { ["base/b"] = "f" }, ["base/b"] = { ["base/a"] = "g" },
      ["http/c"] = {}, ["base/d"] = { ["http/c"] = "h" },
    })
    assert.are.same({ "base/a -> base/b -> base/a" }, layers.circles(g))
    assert.are.same({ "base/d (base) calls h of http/c (http)" }, layers.upward(g))
  end)
end)
