-- What every wrk script of the benchmarks shares: per-thread counters, the response tally
-- and done()'s one line "BENCH_JSON {...}" (read by benchmarks/harness/load.py).
-- A script loads it with dofile and sets `expected_status` (a response with any other
-- status counts as "other", and the first one is kept as first_error).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function reset_counters()
  created = 0
  other = 0
  first_error = ""
end

function response(status, hdrs, body)
  if status == expected_status then
    created = created + 1
  else
    other = other + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
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
