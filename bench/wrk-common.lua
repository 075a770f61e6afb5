-- What the wrk scripts of `npm run bench` (wrk-script.lua) and `npm run test:load`
-- (load-script.lua) share: a monotonic clock, varied visitors, and the summary line.
-- Loaded with dofile() from the script's own directory, in every Lua state wrk makes.
local M = {}

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_common_timespec;
  int clock_gettime(int clk_id, wrk_common_timespec *tp);
]]
local ts = ffi.new("wrk_common_timespec")
function M.now_s()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

-- real browsers only: the collector drops bots
M.agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
}

local doc_ranges = { "192.0.2.", "198.51.100.", "203.0.113." }
local public_prefixes = { "81.2.69.", "89.160.20.", "175.16.199.", "216.160.83." }

-- mostly documentation ranges, a few public-looking addresses so that geography is looked up
local function client_ip()
  if math.random() < 0.9 then
    return doc_ranges[math.random(#doc_ranges)] .. math.random(1, 254)
  end
  return public_prefixes[math.random(#public_prefixes)] .. math.random(1, 254)
end

-- each thread's own random sequence
function M.seed()
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

-- the headers of a beacon from a random visitor
function M.visitor_headers()
  return {
    ["Content-Type"] = "text/plain",
    ["User-Agent"] = M.agents[math.random(#M.agents)],
    ["X-Forwarded-For"] = client_ip(),
  }
end

-- `<LABEL> {json}`: requests sent, answers by status, wrk's counts and latency;
-- `extra` is more JSON fields (with a trailing comma) from the script
function M.write_result(label, threads, summary, latency, extra)
  local total_sent = 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
    for status, n in pairs(t:get("counts")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(by_status) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    '%s {"sent":%d,%s"status":{%s},' ..
    '"completed":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    label, total_sent, extra or "", table.concat(parts, ","),
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

return M
