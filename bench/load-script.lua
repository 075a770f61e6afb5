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

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")
local now_s = common.now_s

local LOAD_S = tonumber(os.getenv("LOAD_S") or "60")
local TAG = os.getenv("LOAD_TAG") or "m"
local PARK = os.getenv("LOAD_PARK") ~= "0"
local POOL = 512

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
id = 0

function init(args)
  common.seed()
  for i = 1, POOL do
    headers_pool[i] = common.visitor_headers()
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
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  common.write_result("LOAD_RESULT", threads, summary, latency)
end
