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
-- * Paced (BENCH_WRK_RATE set, for the freshness measurement of bench/freshness.ts): delay()
--   gives each request the next slot of one schedule, 1/BENCH_WRK_RATE s apart, shared by every
--   connection of the thread (run wrk with -t1), so the collector is busy but not saturated.
--   Slots missed in the last CATCH_UP_S (every connection waiting on a slow answer) are made
--   up; older ones are not, so a long stall is not followed by a flood.
-- * done() prints one line `BENCH_RESULT {json}` that bench/index.ts parses.

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")
local now_s = common.now_s

local LOAD_S = tonumber(os.getenv("BENCH_LOAD_S") or "10")
local RATE = tonumber(os.getenv("BENCH_WRK_RATE") or "")
local CATCH_UP_S = 0.25
local POOL = 4096

local paths = {
  "/", "/", "/", "/pricing", "/features", "/blog", "/blog/launch", "/blog/privacy-by-design",
  "/blog/release-notes", "/docs", "/docs/install", "/docs/api", "/about", "/contact", "/signup",
}

local pool = {}
local started = nil
local stop_at = nil
local next_slot = nil
-- globals of this thread's Lua state: done() copies them out with thread:get
sent = 0
window = 0
counts = {}

function init(args)
  common.seed()
  for i = 1, POOL do
    local body = '{"n":"pageview","u":"https://example.com' .. paths[math.random(#paths)] ..
      '?utm_source=x","d":"example.com","r":"https://www.google.com/","w":1280}'
    pool[i] = wrk.format("POST", "/api/event", common.visitor_headers(), body)
  end
end

function delay()
  local now = now_s()
  if stop_at ~= nil and now >= stop_at then
    return 60000 -- the load phase is over: park this connection until wrk stops
  end
  if RATE == nil then return 0 end
  if next_slot == nil then
    next_slot = now
  elseif next_slot < now - CATCH_UP_S then
    next_slot = now - CATCH_UP_S
  end
  local wait = math.max(0, next_slot - now)
  next_slot = next_slot + 1 / RATE
  -- wrk takes whole milliseconds: a slot is at most 1 ms early, the average rate is unchanged
  return math.floor(wait * 1000)
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
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local window = 0
  for _, t in ipairs(threads) do
    local w = t:get("window")
    if w > window then window = w end
  end
  common.write_result("BENCH_RESULT", threads, summary, latency, string.format('"window_s":%.6f,', window))
end
