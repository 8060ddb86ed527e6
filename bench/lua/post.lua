-- wrk script for bench/run.py: POSTs bodies read from a spec file (the first script argument).
--
-- Spec lines: "P <path>", "H <name>: <value>", "B <body template>" (several rotate), "S <session id>"
-- (several rotate, sent as Mcp-Session-Id). In a body, __ID__ becomes a per-request JSON-RPC id and
-- __CID__ a customer id spread over the seeded range ("C <first id> <count>"), skipping the internal
-- accounts (every 97th) that only superusers may see.
-- Every response is checked: a status other than 200, or a body containing one of the "E <text>"
-- markers (a JSON-RPC error, an isError tool result), counts as bad.
-- done() prints one line "BENCH_JSON {...}" that the runner parses.

local counter = 0
local bodies = {}
local sessions = {}
local first_id, id_count = 1, 1
local markers = {}
bad = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local kind, rest = line:match("^(%u) (.*)$")
    if kind == "P" then
      wrk.path = rest
    elseif kind == "H" then
      local name, value = rest:match("^([^:]+):%s*(.*)$")
      wrk.headers[name] = value
    elseif kind == "B" then
      table.insert(bodies, rest)
    elseif kind == "S" then
      table.insert(sessions, rest)
    elseif kind == "E" then
      table.insert(markers, rest)
    elseif kind == "C" then
      local a, b = rest:match("^(%d+) (%d+)$")
      first_id, id_count = tonumber(a), tonumber(b)
    end
  end
  file:close()
  wrk.method = "POST"
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  if body:find("__CID__", 1, true) then
    local i = (counter * 7919) % id_count
    if i % 97 == 0 then i = (i + 1) % id_count end
    body = body:gsub("__CID__", tostring(first_id + i))
  end
  body = body:gsub("__ID__", tostring(counter))
  if #sessions > 0 then
    wrk.headers["Mcp-Session-Id"] = sessions[(counter % #sessions) + 1]
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    return
  end
  for _, marker in ipairs(markers) do
    if body and body:find(marker, 1, true) then
      bad = bad + 1
      return
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"errors_bad_response":%d,"p50_us":%d,' ..
    '"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    bad_total, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
