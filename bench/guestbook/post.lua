-- wrk: POST /api/entries with a JSON entry; each connection numbers its posts.
--   wrk -s bench/guestbook/post.lua http://127.0.0.1:8080
-- With GUESTBOOK_POSTS=N in the environment (and wrk -t 1), the run stops
-- after N answers (a fill of N entries, give or take the posts in flight).
local n = 0
local answered = 0
local bad = 0
local stop_after = tonumber(os.getenv("GUESTBOOK_POSTS") or "")

request = function()
  n = n + 1
  local body = string.format('{"name":"wrk","message":"post %d from wrk, a message of about sixty bytes"}', n)
  return wrk.format("POST", "/api/entries", {["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
  answered = answered + 1
  if status ~= 201 then bad = bad + 1 end
  if stop_after and answered >= stop_after then wrk.thread:stop() end
end

done = function(summary, latency, requests)
  io.write(string.format("non-201 answers: %d\n", bad))
end
