-- wrk script for `cargo bench --bench load -- --wrk` (benches/load.rs): every
-- request submits an order (POST, JSON) as the customer whose bearer token is in
-- PACTUM_WRK_TOKEN, with the body in PACTUM_WRK_BODY. Each answer's status is
-- counted per thread; at the end one line `PACTUM_WRK {json}` gives the totals:
-- requests, duration_us, non_2xx, statuses (status -> count) and wrk's socket
-- errors (connect, read, write, timeout).
--
-- By hand: PACTUM_WRK_TOKEN=pct_... PACTUM_WRK_BODY='{"service": ...}' \
--   wrk -t2 -c64 -d10s --latency -s benches/wrk_submit.lua http://127.0.0.1:8080/v1/orders

local token = os.getenv("PACTUM_WRK_TOKEN")
local body = os.getenv("PACTUM_WRK_BODY")
if token == nil or body == nil then
  io.stderr:write("wrk_submit.lua: set PACTUM_WRK_TOKEN and PACTUM_WRK_BODY\n")
  os.exit(2)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  non_2xx = 0
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local total_non_2xx = 0
  local total = {}
  for _, thread in ipairs(threads) do
    total_non_2xx = total_non_2xx + thread:get("non_2xx")
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format("%q: %d", status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'PACTUM_WRK {"requests": %d, "duration_us": %d, "non_2xx": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, total_non_2xx, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout))
end
