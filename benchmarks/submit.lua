-- wrk script for benchmarks/run.py: every request is a unique flag submission.
--
-- wrk ... -s benchmarks/submit.lua <url> -- <prefix> <platform> <token>
-- Each request flags a new account handle "<prefix>_<thread>_<n>" and carries the same
-- string as its Idempotency-Key. Both servers get byte-for-byte the same kind of request
-- (the baseline ignores the headers). done() prints one line "BENCH_JSON {...}".

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  platform = args[2]
  token = args[3]
  counter = 0
  created = 0
  other = 0
  first_error = ""
  body_head = '{"platform":"' .. platform .. '","account":{"handle":"'
  body_tail = '"},"category":"propaganda",'
    .. '"legal_basis":"Law No. 5/2018 on the Eradication of Criminal Acts of Terrorism, Art. 13A",'
    .. '"summary":"Account distributes recruitment videos for a proscribed organisation.",'
    .. '"evidence":[{"url":"https://evidence.example.gov/case/1/capture.png"}]}'
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
end

function request()
  counter = counter + 1
  local key = prefix .. "_" .. tid .. "_" .. counter
  headers["Idempotency-Key"] = key
  return wrk.format("POST", nil, headers, body_head .. key .. body_tail)
end

function response(status, hdrs, body)
  if status == 201 then
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
