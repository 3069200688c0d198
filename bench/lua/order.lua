-- POST /api/orders for wrk: random valid orders, the same shape as bench/pgbench/create_order.sql:
-- customer 1..BENCH_CUSTOMERS, 1 to 3 lines, each a product in BENCH_PRODUCT_MIN ..
-- BENCH_PRODUCT_MAX (1,000 products) with quantity 1 to 3, no price (the catalogue's counts).
-- Sends "Authorization: Bearer $COMMAND_API_TOKEN" when that is set, as the API then requires.
--
-- With BENCH_RATE (requests/s for the whole run) and BENCH_THREADS, each thread paces its
-- requests to BENCH_RATE / BENCH_THREADS per second through wrk's delay(): a per-thread
-- schedule of due times on CLOCK_MONOTONIC (LuaJIT's ffi), so the rate does not depend on the
-- latency. A thread that fell behind sends at once until it has caught up, forgiving at most
-- one second of debt.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "10000")
local pmin = tonumber(os.getenv("BENCH_PRODUCT_MIN") or "1")
local pmax = tonumber(os.getenv("BENCH_PRODUCT_MAX") or "1000")
local rate = tonumber(os.getenv("BENCH_RATE") or "")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local headers = {["Content-Type"] = "application/json"}
local token = os.getenv("COMMAND_API_TOKEN")
if token and token ~= "" then
   headers["Authorization"] = "Bearer " .. token
end

function init(args)
   bench_seed()
end

function request()
   local n = math.random(1, 3)
   local items = {}
   for i = 1, n do
      items[i] = string.format('{"productId":%d,"quantity":%d}',
                               math.random(pmin, pmax), math.random(1, 3))
   end
   local body = string.format('{"customerId":%d,"items":[%s]}',
                              math.random(1, customers), table.concat(items, ","))
   return wrk.format("POST", "/api/orders", headers, body)
end

if rate then
   local ffi = require("ffi")
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clk_id, bench_timespec *tp);
   ]]
   local ts = ffi.new("bench_timespec")
   local CLOCK_MONOTONIC = 1
   local function now_us()
      ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
      return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
   end
   local interval_us = 1e6 / (rate / threads)
   local due_us = nil

   function delay()
      local now = now_us()
      if due_us == nil then
         due_us = now
      else
         due_us = due_us + interval_us
         if due_us < now - 1e6 then
            due_us = now - 1e6
         end
      end
      local wait = due_us - now
      if wait <= 0 then
         return 0
      end
      return math.floor(wait / 1000)
   end
end
