-- lua-cos: upload to Tencent Cloud Object Storage from Lua, on a C core (libcurl, libxml2, OpenSSL).
rockspec_format = "3.0"
package = "lua-cos"
version = "scm-1"
source = {
   url = "git+file://.",
}
description = {
   summary = "Tencent Cloud COS client for Lua: concurrent, resumable uploads on a C core",
   detailed = [[
The upload API of the official COS Node.js SDK (putObject, appendObject, POST, the multipart family,
sliceUploadFile, uploadFile, uploadFiles, the task queue) for Lua, built on a C core with a public C
header, plus cosd, a local COS-compatible server for offline development and tests.]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.1",
}
external_dependencies = {
   -- No header check for curl: Debian keeps curl.h in a multiarch directory LuaRocks 3.8 does not search.
   CURL = { library = "curl" },
   OPENSSL = { header = "openssl/evp.h", library = "crypto" },
   LIBXML2 = { header = "libxml2/libxml/parser.h", library = "xml2" },
   MICROHTTPD = { header = "microhttpd.h", library = "microhttpd" },
   JANSSON = { header = "jansson.h", library = "jansson" },
}
build = {
   -- The Makefile is the one description of the build; LuaRocks passes its directories to it.
   type = "make",
   build_target = "all",
   -- LUA (the interpreter's path) picks the build tree, build-lua5.1/ etc., so that rocks for
   -- several Lua versions never share object files.
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LUA = "$(LUA)",
      LUA_INC = "$(LUA_INCDIR)",
   },
   install_target = "install",
   install_variables = {
      LUA = "$(LUA)",
      LUA_INC = "$(LUA_INCDIR)",
      INST_LIBDIR = "$(LIBDIR)",
      INST_LUADIR = "$(LUADIR)",
      INST_BINDIR = "$(BINDIR)",
   },
}
