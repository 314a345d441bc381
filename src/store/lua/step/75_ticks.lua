-- The states in which a deadline's reminders have no more purpose.
local SATISFIED = {
  accept = { [S.accepted] = true, [S.in_progress] = true, [S.resolved] = true, [S.closed] = true,
             [S.withdrawn] = true },
  progress = { [S.in_progress] = true, [S.resolved] = true, [S.closed] = true, [S.withdrawn] = true },
  resolve = { [S.resolved] = true, [S.closed] = true, [S.withdrawn] = true },
}

local function fire_deadline(id, kind, phase, clock)
  local c = load_case(id)
  if not c or c.clock ~= clock or not SATISFIED[kind] or SATISFIED[kind][c.state] then return end
  local p = person(c.deputy)
  local w = tonumber(opt[kind .. '_s']) or 0
  local vars = { case = id, topic = topic_of(c), category = category_name(c.category),
                 action = word('action.' .. kind), state = state_name(c.state),
                 hours = math.max(0, math.floor((tonumber(clock) + w - nows) / 3600)) }
  if phase == 'half' then
    notify(p, render('reminder', vars), id)
    history(id, 'system', 'reminded', kind .. ' half')
  elseif phase == 'due' then
    notify(p, render('reminder_due', vars), id)
    history(id, 'system', 'reminded', kind .. ' due')
  elseif phase == 'over' then
    escalate(c, 'system', render('overdue', vars), 1)
  elseif phase == 'over2' then
    escalate(c, 'system', render('overdue', vars), 2)
  end
  if NEXT_PHASE[phase] then arm(id, kind, NEXT_PHASE[phase], tonumber(clock)) end
end

local function close_unrated(c)
  local id = c.id
  set_state(c, next_state('rate', c.state), 'system', 'closed_unrated', '')
  redis.call('ZREM', rcases_key(c.channel, c.addr), id)
  local rk = res_key(c.channel, c.addr)
  if hget(rk, 'rating_case') == id then redis.call('HDEL', rk, 'rating_case') end
  push(c, render('closed_unrated', { case = id, topic = topic_of(c) }))
  arm_compaction(id)
end

-- The end of the rating window of a resolved case; once the case is
-- closed, the end of its follow-up window (arm_compaction): a closed
-- case past its windows keeps what the admin API and exports read (its
-- hash, its history) in less memory (lib/history.lua).
local function rating_timer(id)
  local c = load_case(id)
  if not c then return end
  if c.state == S.resolved then
    close_unrated(c)
  elseif c.state == S.closed and (c.compacted or '') == '' then
    hist_compact(id)
  end
end

-- Timers that are due, each handled by exactly one instance: the ZREM
-- happens in the same atomic step as the work.
local function tick()
  if env.digest then arm_digest(env.digest) end
  local due = redis.call('ZRANGEBYSCORE', K.timers, '-inf', nows, 'LIMIT', 0, 50)
  for _, t in ipairs(due) do
    redis.call('ZREM', K.timers, t)
    local f = {}
    for part in string.gmatch(t, '[^|]+') do f[#f + 1] = part end
    if f[1] == 'session' then
      expire_session(f[2], f[3])
    elseif f[1] == 'case' then
      fire_deadline(f[2], f[3], f[4], f[5])
    elseif f[1] == 'rating' then
      rating_timer(f[2])
    elseif f[1] == 'revisit' then
      ask_revisit(f[2])
    elseif f[1] == 'digest' then
      fire_digest(f[2], f[3], f[4])
    end
  end
  return 'tick', tostring(#due)
end

