-- Deadlines (contract §7).  Each kind runs on the case's `clock` (set at
-- assignment, transfer and reopening) through phases: half-way and
-- deadline reminders, then escalation to the station liaison and, later
-- still, to the committee.  Only the next phase is ever scheduled; a
-- timer whose clock no longer matches the case's is stale and dropped.
local DEADLINES = { 'accept', 'progress', 'resolve' }
local PHASES = { half = 0.5, due = 1.0, over = 1.5, over2 = 2.0 }
local NEXT_PHASE = { half = 'due', due = 'over', over = 'over2' }
local function arm(id, kind, phase, clock)
  local w = tonumber(opt[kind .. '_s']) or 0
  if w <= 0 then return end
  redis.call('ZADD', K.timers, clock + math.floor(w * PHASES[phase]),
    'case|' .. id .. '|' .. kind .. '|' .. phase .. '|' .. clock)
end
-- The first phase of every deadline, in one ZADD.
local function arm_first(id)
  local zargs = {}
  for _, kind in ipairs(DEADLINES) do
    local w = tonumber(opt[kind .. '_s']) or 0
    if w > 0 then
      zargs[#zargs + 1] = nows + math.floor(w * PHASES.half)
      zargs[#zargs + 1] = 'case|' .. id .. '|' .. kind .. '|half|' .. nows
    end
  end
  if #zargs > 0 then redis.call('ZADD', K.timers, unpack(zargs)) end
end
local function arm_all(c)
  c.clock = tostring(nows)
  redis.call('HSET', K.case .. c.id, 'clock', nows)
  arm_first(c.id)
end
-- A closed case is compacted (75_ticks.lua) once its follow-up window
-- has passed: its rating timer is moved there, the same one ZADD.
-- The same ZADD arms the case's 回头看 (68_revisit.lua) timers.revisit_s
-- later, when that is on: a closing costs no extra command.
local function arm_compaction(id)
  local revisit_s = tonumber(opt.revisit_s) or 0
  if revisit_s > 0 then
    redis.call('ZADD', K.timers, nows + (tonumber(opt.followup_s) or 0), 'rating|' .. id,
      nows + revisit_s, 'revisit|' .. id)
    return
  end
  redis.call('ZADD', K.timers, nows + (tonumber(opt.followup_s) or 0), 'rating|' .. id)
end
