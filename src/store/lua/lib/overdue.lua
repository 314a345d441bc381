-- "Overdue" (src/core/schema.def, "deadline"; src/core/lifecycle.c
-- case_overdue is its C face): a case whose state has a deadline is
-- overdue once more than the deadline's window has passed since it was
-- opened; the window is the smallest of the deadline's timers, given in
-- `timers` by name ({ accept = seconds, resolve = seconds, ... }).
local function deadline_window(deadline, timers)
  local w
  for _, t in ipairs(SCHEMA.deadlines[deadline] or {}) do
    local v = tonumber(timers[t])
    if v and (not w or v < w) then w = v end
  end
  return w
end
local function is_overdue(state, created, now, timers)
  local st = SCHEMA.states[state]
  local w = st and st.deadline and deadline_window(st.deadline, timers)
  created = tonumber(created)
  return w ~= nil and created ~= nil and created > 0 and now - created > w
end
-- The open cases past their deadline, counted from the deadline sets
-- (K.due .. deadline, scored by creation time: lib/casestate.lua) with
-- one ZCOUNT a deadline.
local function count_overdue(now, timers)
  local n = 0
  for _, d in ipairs(SCHEMA.deadline_order) do
    local w = deadline_window(d, timers)
    if w then n = n + redis.call('ZCOUNT', K.due .. d, '-inf', '(' .. (now - w)) end
  end
  return n
end
