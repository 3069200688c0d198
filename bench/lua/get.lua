-- GET requests for wrk. Without BENCH_PATH the URL's path is requested as it is (wrk's
-- precompiled request, no Lua per request). With BENCH_PATH (a format with one %d) and
-- BENCH_ID_FILE (ids, one a line), each request asks for a random id of the file.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local fmt = os.getenv("BENCH_PATH")
local id_file = os.getenv("BENCH_ID_FILE")
local ids = {}

function init(args)
   bench_seed()
   if id_file then
      for line in io.lines(id_file) do
         ids[#ids + 1] = tonumber(line)
      end
   end
end

if fmt and id_file then
   function request()
      return wrk.format("GET", string.format(fmt, ids[math.random(1, #ids)]))
   end
end
