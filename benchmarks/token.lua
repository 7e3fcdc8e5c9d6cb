-- wrk script for benchmarks/run.py: client-credentials token requests (POST /oauth/token).
--
-- wrk ... -s benchmarks/token.lua <url> -- <client_id> <client_secret>
-- Every request is the same form; a 200 counts as "created". done() prints one line
-- "BENCH_JSON {...}" in the shape of submit.lua's.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  created = 0
  other = 0
  first_error = ""
  body = "grant_type=client_credentials&client_id=" .. args[1] .. "&client_secret=" .. args[2]
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

function request()
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, resp_body)
  if status == 200 then
    created = created + 1
  else
    other = other + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(resp_body or "", 1, 300)
    end
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local c, o, err = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
    if err == "" then
      err = t:get("first_error")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"created":%d,"other_status":%d,'
      .. '"first_error":%s,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d},"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, c, o, json_string(err),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
