-- wrk script for benchmarks/run.py: every request is a unique flag submission.
--
-- wrk ... -s benchmarks/submit.lua <url> -- <prefix> <platform> <token>
-- Each request flags a new account handle "<prefix>_<thread>_<n>" and carries the same
-- string as its Idempotency-Key. Both servers get byte-for-byte the same kind of request
-- (the baseline ignores the headers). A 201 counts as "created" (report.lua prints the line).

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
expected_status = 201

function init(args)
  prefix = args[1]
  platform = args[2]
  token = args[3]
  counter = 0
  reset_counters()
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
