-- wrk: POST /api/entries with a JSON entry; each connection numbers its posts.
-- wrk -s bench/guestbook/post.lua http://127.0.0.1:8080
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"name":"wrk","message":"post %d from wrk"}', n)
  return wrk.format("POST", "/api/entries", {["Content-Type"] = "application/json"}, body)
end

local bad = 0
response = function(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-201 answers: %d\n", bad))
end
