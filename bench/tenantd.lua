-- wrk script for tenantd's canonical API (bench/run sets the environment).
--
--   KIND  get     GET /api/v1/tenants/tenant-K, K random in 1..N, JSON
--         xml     the same with Accept: application/xml
--         etag    the same with If-None-Match: "1" (every seeded tenant is at version 1) -> 304
--         list    GET /api/v1/tenants?pageNumber=PAGE (page size 10)
--         count   GET /api/v1/tenants/count
--         search  GET /api/v1/tenants?q=K, K random in 100..N (word-prefix search)
--         create  POST /api/v1/tenants, a new slug and name per request -> 202
--         mix     get, xml, etag, list page 1, count in turn (the long RSS run)
--         scount  GET /api/v1/tenants/count?q=K
--         active  GET /api/v1/tenants?isActive=true&pageNumber=P&sort=S, P random in 1..N/10,
--                 S a random sort order (isActive pages at random depths)
--         inactive GET /api/v1/tenants?isActive=false&sort=S (none in the seeded set)
--         fcount  GET /api/v1/tenants/count?isActive=true or false, in turn
--         ldesc   GET /tenants?description=K (seed 002's description search)
--         fmix    search, active, inactive, fcount, scount in turn (issue 12's mixed load)
--         csearch GET /api/v1/tenants?q=tenant&sort=S (a word every seeded tenant holds)
--         cmix    search, csearch, inactive, fcount, scount in turn (text searches, common words)
--         path    GET PATH_ONE (a compatibility surface's list)
--         paths   GET a random line of the file PATHS (a surface's get by id)
--   N     number of seeded tenants (100000)
--   KEY   API key (tk_live_...), sent as Authorization: Bearer
--   PAGE  page number for KIND=list (1)
--   RUN   a tag unique to this wrk invocation; part of every created slug
--
-- The anchors use ../shared/anchors/rand-id.lua as given; random ids here are
-- drawn the same way (math.random over 1..N, one wrk.format per request).

local kind = os.getenv("KIND") or "get"
local n = tonumber(os.getenv("N") or "100000")
local key = os.getenv("KEY") or ""
local page = os.getenv("PAGE") or "1"
local run = os.getenv("RUN") or "x"
local one_path = os.getenv("PATH_ONE")
local paths_file = os.getenv("PATHS")
local paths = {}

local threads = {}

-- main state: number the threads so created slugs differ between them
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

local base = "/api/v1/tenants"

-- A search term: a seeded number of 3 digits or more (a text without a word of 3
-- characters is refused over large accounts: README, "Text search and filters").
local function term()
  return math.random(math.min(100, n), n)
end
local fixed          -- pre-formatted request for the fixed-path kinds
local counter = 0
local h_json, h_xml, h_etag

function init(args)
  local t = tonumber(tid) or 1
  math.randomseed(os.time() * 1000 + t * 7919)
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Accept"] = "application/json"
  h_json = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
  h_xml = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/xml" }
  h_etag = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json",
             ["If-None-Match"] = '"1"' }
  if kind == "xml" then
    wrk.headers["Accept"] = "application/xml"
  elseif kind == "etag" then
    wrk.headers["If-None-Match"] = '"1"'
  elseif kind == "list" then
    fixed = wrk.format("GET", base .. "?pageNumber=" .. page)
  elseif kind == "count" then
    fixed = wrk.format("GET", base .. "/count")
  elseif kind == "path" then
    fixed = wrk.format("GET", one_path)
  elseif kind == "paths" then
    for line in io.lines(paths_file) do
      paths[#paths + 1] = line
    end
  elseif kind == "create" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

local function by_id()
  return base .. "/tenant-" .. math.random(1, n)
end

local mix_i = 0
local sorts = { "id", "name", "createdAt", "validUpto", "consentedAt",
                "-id", "-name", "-createdAt", "-validUpto", "-consentedAt" }
local fcount_i = 0

local function filtered(k)
  if k == "search" then
    return base .. "?q=" .. term()
  elseif k == "scount" then
    return base .. "/count?q=" .. term()
  elseif k == "active" then
    return base .. "?isActive=true&pageNumber=" .. math.random(1, math.max(1, math.floor(n / 10))) ..
      "&sort=" .. sorts[math.random(1, #sorts)]
  elseif k == "inactive" then
    return base .. "?isActive=false&sort=" .. sorts[math.random(1, #sorts)]
  elseif k == "fcount" then
    fcount_i = fcount_i + 1
    return base .. "/count?isActive=" .. (fcount_i % 2 == 0 and "true" or "false")
  elseif k == "csearch" then
    return base .. "?q=tenant&sort=" .. sorts[math.random(1, #sorts)]
  elseif k == "ldesc" then
    return "/tenants?description=" .. term()
  end
end

local filtered_kinds = { search = true, scount = true, active = true, inactive = true,
                         fcount = true, ldesc = true, csearch = true }
local fmix = { "search", "active", "inactive", "fcount", "scount" }
local cmix = { "search", "csearch", "inactive", "fcount", "scount" }

request = function()
  if fixed then
    return fixed
  elseif kind == "get" or kind == "xml" or kind == "etag" then
    return wrk.format("GET", by_id())
  elseif kind == "paths" then
    return wrk.format("GET", paths[math.random(1, #paths)])
  elseif filtered_kinds[kind] then
    return wrk.format("GET", filtered(kind))
  elseif kind == "fmix" then
    mix_i = mix_i % #fmix + 1
    return wrk.format("GET", filtered(fmix[mix_i]))
  elseif kind == "cmix" then
    mix_i = mix_i % #cmix + 1
    return wrk.format("GET", filtered(cmix[mix_i]))
  elseif kind == "create" then
    counter = counter + 1
    local s = string.format("b%s-%d-%d", run, tonumber(tid) or 1, counter)
    local body = string.format(
      '{"id":"%s","name":"Bench %s","adminEmail":"admin@%s.example.com","issuer":"https://%s.example.com"}',
      s, s, s, s)
    return wrk.format("POST", base, nil, body)
  elseif kind == "mix" then
    mix_i = mix_i % 5 + 1
    if mix_i == 1 then return wrk.format("GET", by_id(), h_json)
    elseif mix_i == 2 then return wrk.format("GET", by_id(), h_xml)
    elseif mix_i == 3 then return wrk.format("GET", by_id(), h_etag)
    elseif mix_i == 4 then return wrk.format("GET", base .. "?pageNumber=1", h_json)
    else return wrk.format("GET", base .. "/count", h_json) end
  end
  error("unknown KIND " .. kind)
end
