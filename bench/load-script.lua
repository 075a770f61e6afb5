-- wrk load for `npm run test:load` (bench/load.ts): pageview beacons from varied visitors,
-- each with a unique marker in its URL path, so the store can be checked for loss and
-- duplicates (count() against uniqExact(pathname)).
--
-- * POST /api/event, JSON pageview as text/plain (as sendBeacon sends it), varied
--   X-Forwarded-For (documentation ranges plus a few public-looking addresses) and varied
--   real browser User-Agents (no bots), as bench/wrk-script.lua does.
-- * The path is /load/<tag><thread>/<n> with n written in the letters g..z (no digits, no
--   hex: the URL scrubber leaves it alone), unique per request.
-- * LOAD_PARK=1: beacons are sent only during the first LOAD_S seconds, then delay() parks
--   every connection, so each beacon sent is answered before wrk stops (run wrk with -d a
--   second or two longer): exact accounting. LOAD_PARK=0: send until wrk stops (SIGINT).
-- * response() counts statuses; done() prints one line `LOAD_RESULT {json}`.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } load_timespec;
  int clock_gettime(int clk_id, load_timespec *tp);
]]
local ts = ffi.new("load_timespec")
local function now_s()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local LOAD_S = tonumber(os.getenv("LOAD_S") or "60")
local TAG = os.getenv("LOAD_TAG") or "m"
local PARK = os.getenv("LOAD_PARK") ~= "0"
local POOL = 512

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

local doc_ranges = { "192.0.2.", "198.51.100.", "203.0.113." }
local public_prefixes = { "81.2.69.", "89.160.20.", "175.16.199.", "216.160.83." }

local function client_ip()
  if math.random() < 0.9 then
    return doc_ranges[math.random(#doc_ranges)] .. math.random(1, 254)
  end
  return public_prefixes[math.random(#public_prefixes)] .. math.random(1, 254)
end

-- n in base 20 with the letters g..z
local function letters(n)
  local s = ""
  repeat
    s = string.char(103 + n % 20) .. s
    n = math.floor(n / 20)
  until n == 0
  return s
end

local headers_pool = {}
local prefix = nil
local started = nil
local stop_at = nil
-- globals of this thread's Lua state: done() copies them out with thread:get
sent = 0
counts = {}
dropped = 0
id = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for i = 1, POOL do
    headers_pool[i] = {
      ["Content-Type"] = "text/plain",
      ["User-Agent"] = agents[math.random(#agents)],
      ["X-Forwarded-For"] = client_ip(),
    }
  end
end

function delay()
  if PARK and stop_at ~= nil and now_s() >= stop_at then
    return 60000 -- the load phase is over: park this connection until wrk stops
  end
  return 0
end

-- wrk calls request() once on the first thread's state to check the script, before any
-- connection: that call is neither counted nor sent.
local checked = false

function request()
  if not checked then
    checked = true
    if id == 1 then return wrk.format("POST", "/api/event", headers_pool[1], "{}") end
  end
  if started == nil then
    started = now_s()
    stop_at = started + LOAD_S
    prefix = '{"n":"pageview","u":"https://example.com/load/' .. TAG .. letters(id) .. '/'
  end
  local body = prefix .. letters(sent) .. '?utm_source=x","d":"example.com","r":"https://www.google.com/","w":1280}'
  sent = sent + 1
  return wrk.format("POST", "/api/event", headers_pool[math.random(POOL)], body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if headers["x-analytics-dropped"] ~= nil then dropped = dropped + 1 end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local total_sent, total_dropped = 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
    total_dropped = total_dropped + t:get("dropped")
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
    'LOAD_RESULT {"sent":%d,"dropped":%d,"status":{%s},' ..
    '"completed":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    total_sent, total_dropped, table.concat(parts, ","),
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
