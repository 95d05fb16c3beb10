-- wrk script for tests/soak/run: a mix of what clients do, 4xx included.
--
--   KEY  an account key holding every permission   N  seeded tenants (tenant-1..N)
--   RUN  a tag unique to this wrk run (part of every created slug)
--
-- Per 16 requests: 6 GET by id (2 as XML, 1 conditional), 2 list pages, 1 count, 1 create,
-- 1 PATCH and 1 DELETE of tenants this thread created, 1 GET of a missing tenant (404),
-- 1 invalid create (422), 1 unauthenticated GET (401), 1 filtered list.  (Text search is
-- left out: at this scale it is a scan, issue 12's business, and would set the pace.)  Statuses are counted per
-- thread and summed in done(); any 5xx or socket error fails the soak.

local key = os.getenv("KEY") or ""
local n = tonumber(os.getenv("N") or "10000")
local run = os.getenv("RUN") or "s"
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

local counts = {}
local made = {}          -- slugs this thread created and has not deleted
local seq, step = 0, 0

function init(args)
  math.randomseed(os.time() * 1000 + (tonumber(tid) or 1) * 7919)
end

local function h(extra)
  local t = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function by_id()
  return "/api/v1/tenants/tenant-" .. math.random(1, n)
end

request = function()
  step = step % 16 + 1
  if step <= 4 then
    return wrk.format("GET", by_id(), h())
  elseif step <= 6 then
    return wrk.format("GET", by_id(), h({ ["Accept"] = "application/xml" }))
  elseif step == 7 then
    return wrk.format("GET", "/api/v1/tenants?pageNumber=" .. math.random(1, 50), h())
  elseif step == 8 then
    return wrk.format("GET", "/api/v1/tenants?pageSize=20&sort=name%20desc", h())
  elseif step == 9 then
    return wrk.format("GET", "/api/v1/tenants/count", h())
  elseif step == 10 then
    seq = seq + 1
    local s = string.format("s%s-%d-%d", run, tonumber(tid) or 1, seq)
    made[#made + 1] = s
    return wrk.format("POST", "/api/v1/tenants", h({ ["Content-Type"] = "application/json" }),
      string.format('{"id":"%s","name":"Soak %s","adminEmail":"a@%s.example"}', s, s, s))
  elseif step == 11 and #made > 0 then
    return wrk.format("PATCH", "/api/v1/tenants/" .. made[#made], h({ ["Content-Type"] = "application/json" }),
      '{"description":"soaked"}')
  elseif step == 12 and #made > 0 then
    local s = table.remove(made, 1)
    return wrk.format("DELETE", "/api/v1/tenants/" .. s .. "?confirmName=Soak%20" .. s ..
      "&confirmDisplayName=Soak%20" .. s, h())
  elseif step == 13 then
    return wrk.format("GET", "/api/v1/tenants/no-such-" .. math.random(1, 1000000), h())
  elseif step == 14 then
    return wrk.format("POST", "/api/v1/tenants", h({ ["Content-Type"] = "application/json" }),
      '{"id":"X","name":"","adminEmail":"nope"}')
  elseif step == 15 then
    return wrk.format("GET", by_id(), { ["Accept"] = "application/json" })
  end
  return wrk.format("GET", "/api/v1/tenants?isActive=true&pageNumber=" .. math.random(1, 20), h())
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for s = 100, 599 do
      local c = t:get("c" .. s)
      if c then total[s] = (total[s] or 0) + c end
    end
  end
  local line = ""
  for s = 100, 599 do
    if total[s] then line = line .. string.format(" %d=%d", s, total[s]) end
  end
  local e = summary.errors
  io.write(string.format("SOAK requests=%d errors=%d%s\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, line))
end

-- Expose the counts to done(): wrk reads thread globals only by name.
local old_response = response
response = function(status, headers, body)
  old_response(status, headers, body)
  _G["c" .. status] = counts[status]
end
