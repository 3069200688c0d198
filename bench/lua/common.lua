-- Shared by every wrk script of the benchmark (loaded with dofile from $BENCH_LUA_DIR).
-- setup() numbers the threads; done() prints one line "BENCH_RESULT {json}" that
-- bench/lib.sh reads: requests, errors, requests/s and latency percentiles in microseconds.

local next_thread_id = 0

function setup(thread)
   next_thread_id = next_thread_id + 1
   thread:set("thread_id", next_thread_id)
end

-- A per-thread random seed, so that the threads do not send the same sequence.
function bench_seed()
   local id = tonumber(wrk.thread:get("thread_id")) or 1
   math.randomseed(os.time() * 1000 + id * 7919)
end

function done(summary, latency, requests)
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
      '"bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
      '"timeout": %d}}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
