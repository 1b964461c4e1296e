-- wrk script for bench/lamp's durable-posts row: every request posts a new, unique entry
-- (JSON API) and counts as done only when its 201 arrives, i.e. after its commit.
-- GB_TAG (from the environment) keeps entries of different runs apart.
local n = 0
local tag = os.getenv("GB_TAG") or "wrk"
function request()
  n = n + 1
  local body = string.format('{"name":"wrk%d","message":"%s post %d: durable, one commit per entry (or one shared by a group)"}',
    n % 50, tag, n)
  return wrk.format("POST", "/api/entries", {["Content-Type"] = "application/json"}, body)
end
