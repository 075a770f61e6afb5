-- wrk flood of the stats API through one shared link for `npm run test:load` (bench/load.ts,
-- the stats-flood scenario): the questions that were slow (a three-year time series by month,
-- by day, breakdowns), over and over, from every connection, as an attacker holding a public
-- shared link would send them.
--
-- * FLOOD_TOKEN: the shared link (sent as Authorization: Bearer); FLOOD_SITE: its site.
-- * response() counts statuses; done() prints one line `FLOOD_RESULT {json}`.

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")

local TOKEN = os.getenv("FLOOD_TOKEN") or ""
local SITE = os.getenv("FLOOD_SITE") or "example.com"

local QUESTIONS = {
  "/api/v1/stats/timeseries?site=%s&period=custom&from=2024-01-01&to=2026-12-31&interval=month&metrics=visitors,pageviews",
  "/api/v1/stats/timeseries?site=%s&period=custom&from=2024-01-01&to=2026-12-31&interval=week&metrics=visitors",
  "/api/v1/stats/timeseries?site=%s&period=custom&from=2024-01-01&to=2026-12-31&interval=day&metrics=visitors",
  "/api/v1/stats/breakdown?site=%s&period=custom&from=2024-01-01&to=2026-12-31&property=page&metrics=visitors,pageviews,bounce_rate",
  "/api/v1/stats/aggregate?site=%s&period=12mo&metrics=visitors,visits,pageviews,bounce_rate,visit_duration",
}

-- globals of this thread's Lua state: done() copies them out with thread:get
sent = 0
counts = {}
local headers = { ["Authorization"] = "Bearer " .. TOKEN, ["Accept"] = "application/json" }

function request()
  sent = sent + 1
  return wrk.format("GET", string.format(QUESTIONS[sent % #QUESTIONS + 1], SITE), headers)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  common.write_result("FLOOD_RESULT", threads, summary, latency)
end
