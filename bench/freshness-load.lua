-- wrk load for the freshness measurement of `npm run bench` (bench/freshness.ts): the
-- pageview beacons of wrk-script.lua, but at a fixed rate instead of as fast as the server
-- answers, so the collector is busy but not saturated while probes time how soon a 202 is
-- counted (a saturated server would measure its queue, not the statistics engine).
--
-- * Pacing: delay() gives each request the next slot of one schedule, 1/BENCH_FRESHNESS_RATE s
--   apart, shared by every connection of the thread (run wrk with -t1). Slots missed in the last
--   CATCH_UP_S (every connection was waiting on a slow answer) are made up, so short hiccups
--   do not lower the rate; older ones are not, so a long stall is not followed by a flood.
-- * Runs until wrk is stopped (SIGINT, or -d); done() prints one line `FRESHNESS_LOAD {json}`
--   with what was sent and answered and the seconds from the first request to the last answer.

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")
local now_s = common.now_s

local RATE = tonumber(os.getenv("BENCH_FRESHNESS_RATE") or "1000")
local INTERVAL = 1 / RATE
local CATCH_UP_S = 0.25
local POOL = 4096

local paths = {
  "/", "/", "/", "/pricing", "/features", "/blog", "/blog/launch", "/blog/privacy-by-design",
  "/blog/release-notes", "/docs", "/docs/install", "/docs/api", "/about", "/contact", "/signup",
}

local pool = {}
local started = nil
local next_slot = nil
-- globals of this thread's Lua state: done() copies them out with thread:get
sent = 0
window = 0
counts = {}
dropped = 0
id = 0

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
  if next_slot == nil then
    next_slot = now
  elseif next_slot < now - CATCH_UP_S then
    next_slot = now - CATCH_UP_S
  end
  local wait = math.max(0, next_slot - now)
  next_slot = next_slot + INTERVAL
  -- wrk takes whole milliseconds: a slot is at most 1 ms early, the average rate is unchanged
  return math.floor(wait * 1000)
end

-- wrk calls request() once on the first thread's state to check the script, before any
-- connection: that call is neither counted nor starts the clock.
local checked = false

function request()
  if not checked then
    checked = true
    if id == 1 then return pool[1] end
  end
  if started == nil then started = now_s() end
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
  local window = 0
  for _, t in ipairs(threads) do
    local w = t:get("window")
    if w > window then window = w end
  end
  common.write_result("FRESHNESS_LOAD", threads, summary, latency, string.format('"window_s":%.6f,', window))
end
