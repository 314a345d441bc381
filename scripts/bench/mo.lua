-- wrk script for `make bench`: Kannel-style inbound SMS to mashangd.
--
-- Every request is a different resident (a random +86138xxxxxxxx sender),
-- carries one of the resident texts of scripts/bench/messages.txt (taken
-- from the dev corpus, concern and chat lines; deputies' commands left out)
-- and a unique id, so the daemon dedupes nothing and runs the full step.
--
-- Environment: BENCH_MESSAGES (path of messages.txt), BENCH_TAG (prefix of
-- the ids, unique per run so reruns against one Redis are not duplicates).

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local texts = {}
local path = os.getenv("BENCH_MESSAGES") or "scripts/bench/messages.txt"
for line in io.lines(path) do
  if #line > 0 then texts[#texts + 1] = urlencode(line) end
end
if #texts == 0 then error("no texts in " .. path) end

local tag = os.getenv("BENCH_TAG") or tostring(os.time())
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  -- tid is set by setup() before init runs in the thread's own Lua state.
  n = 0
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  n = n + 1
  local path = string.format("/sms/kannel?from=%%2B86138%08d&to=10690001&text=%s&id=%s-%d-%d",
                             math.random(0, 99999999), texts[(n % #texts) + 1], tag, tid or 0, n)
  return wrk.format("GET", path)
end
