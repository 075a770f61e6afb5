-- wrk load for `npm run bench`: realistic pageview beacons from varied visitors.
--
-- * Every request is a POST /api/event with a JSON pageview (text/plain, as sendBeacon
--   sends it), a varied path, a varied X-Forwarded-For (documentation ranges plus a few
--   public-looking addresses) and a varied real browser User-Agent (no bots).
-- * Requests come from a pool built once per thread with wrk.format and picked with
--   math.random, so wrk spends almost no CPU on them (wrk and the server share 2 cores).
-- * Exact accounting: beacons are sent only during the first BENCH_LOAD_S seconds; after
--   that delay() parks every connection, so every beacon sent gets its answer before wrk
--   stops (run wrk with -d a second longer). Nothing is in flight when wrk hangs up, so
--   "answered 202" can be compared exactly with what the store holds.
-- * done() prints one line `BENCH_RESULT {json}` that bench/index.ts parses.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_s()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local LOAD_S = tonumber(os.getenv("BENCH_LOAD_S") or "10")
local POOL = 4096

local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
}

local paths = {
  "/", "/", "/", "/pricing", "/features", "/blog", "/blog/launch", "/blog/privacy-by-design",
  "/blog/release-notes", "/docs", "/docs/install", "/docs/api", "/about", "/contact", "/signup",
}

local doc_ranges = { "192.0.2.", "198.51.100.", "203.0.113." }
local public_prefixes = { "81.2.69.", "89.160.20.", "175.16.199.", "216.160.83." }

local function client_ip()
  if math.random() < 0.9 then
    return doc_ranges[math.random(#doc_ranges)] .. math.random(1, 254)
  end
  return public_prefixes[math.random(#public_prefixes)] .. math.random(1, 254)
end

local pool = {}
local started = nil
local stop_at = nil
-- globals of this thread's Lua state: done() copies them out with thread:get
sent = 0
window = 0
counts = {}
dropped = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for i = 1, POOL do
    local body = '{"n":"pageview","u":"https://example.com' .. paths[math.random(#paths)] ..
      '?utm_source=x","d":"example.com","r":"https://www.google.com/","w":1280}'
    local headers = {
      ["Content-Type"] = "text/plain",
      ["User-Agent"] = agents[math.random(#agents)],
      ["X-Forwarded-For"] = client_ip(),
    }
    pool[i] = wrk.format("POST", "/api/event", headers, body)
  end
end

function delay()
  if stop_at ~= nil and now_s() >= stop_at then
    return 60000 -- the load phase is over: park this connection until wrk stops
  end
  return 0
end

-- wrk calls request() once on the first thread's state to check the script, before any
-- connection: that call is neither counted nor starts the clock.
id = 0
local checked = false

function request()
  if not checked then
    checked = true
    if id == 1 then return pool[1] end
  end
  if started == nil then
    started = now_s()
    stop_at = started + LOAD_S
  end
  sent = sent + 1
  return pool[math.random(POOL)]
end

function response(status, headers, body)
  window = now_s() - started
  counts[status] = (counts[status] or 0) + 1
  if headers["x-analytics-dropped"] ~= nil then dropped = dropped + 1 end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local total_sent, total_dropped, window = 0, 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
    total_dropped = total_dropped + t:get("dropped")
    local w = t:get("window")
    if w > window then window = w end
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
    'BENCH_RESULT {"sent":%d,"dropped":%d,"window_s":%.6f,"status":{%s},' ..
    '"completed":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    total_sent, total_dropped, window, table.concat(parts, ","),
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
