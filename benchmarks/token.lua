-- wrk script for benchmarks/run.py: client-credentials token requests (POST /oauth/token).
--
-- wrk ... -s benchmarks/token.lua <url> -- <client_id> <client_secret>
-- Every request is the same form; a 200 counts as "created" (report.lua prints the line).

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
expected_status = 200

function init(args)
  reset_counters()
  body = "grant_type=client_credentials&client_id=" .. args[1] .. "&client_secret=" .. args[2]
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

function request()
  return wrk.format("POST", nil, headers, body)
end
