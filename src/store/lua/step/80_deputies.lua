-- Deputies

local COMMAND_EVENT = { ['cmd.accept'] = 'accept', ['cmd.progress'] = 'progress',
                        ['cmd.resolve'] = 'resolve', ['cmd.detail'] = 'detail',
                        ['cmd.transfer'] = 'transfer', ['cmd.escalate'] = 'escalate',
                        ['cmd.reply'] = 'reply', ['cmd.deliberate'] = 'deliberate',
                        ['cmd.opinion'] = 'opinion', ['cmd.decide'] = 'decide',
                        ['cmd.split'] = 'split', ['cmd.join'] = 'join' }
-- 小组商 commands: the station's group, not only the case's deputy.
local GROUP_EVENT = { opinion = true, decide = true }
-- What each command's work answers when it was done (a common issue's
-- cases are counted by it).
local DONE_ACTION = { accepted = true, progress = true, resolved = true, relayed = true,
                      transferred = true, escalated = true, decided = true }
-- When the engine is unsure of a command it offers its own guesses first,
-- then these, up to OFFER_MAX choices.
local OFFER_ORDER = { 'cmd.progress', 'cmd.resolve', 'cmd.detail', 'cmd.transfer', 'cmd.reply',
                      'cmd.accept', 'cmd.escalate' }
local OFFER_MAX = 4
-- A numbered question offers at most this many cases (one-digit answers).
local PICK_MAX = 9

local function age(ts)
  local s = nows - tonumber(ts)
  if s >= 86400 then return math.floor(s / 86400) .. '天' end
  if s >= 3600 then return math.floor(s / 3600) .. '小时' end
  return math.max(1, math.floor(s / 60)) .. '分钟'
end

local function deputy_list(me)
  local ids = redis.call('ZRANGE', K.dq .. me, 0, -1, 'WITHSCORES')
  if #ids == 0 then
    reply(render('deputy_list_empty', {}))
    return 'list', nil
  end
  local items, commons, counts = {}, {}, {}
  for i = 1, #ids, 2 do
    local c = load_case(ids[i])
    if c and c.common and c.common ~= '' then
      -- the cases of a common issue are one item, with their number
      if not counts[c.common] then
        items[#items + 1] = c.common
        commons[c.common] = c
        counts[c.common] = 0
      end
      counts[c.common] = counts[c.common] + 1
    elseif c then
      items[#items + 1] = render('deputy_list_item', { case = c.id, topic = topic_of(c),
        age = age(ids[i + 1]), state = state_name(c.state) })
    end
  end
  for i, item in ipairs(items) do
    if counts[item] then
      items[i] = render('deputy_common_item', { common = item, topic = topic_of(commons[item]),
        place = commons[item].place or '', count = counts[item] })
    end
  end
  reply(render('deputy_list', { count = #items, items = table.concat(items, '；') }))
  return 'list', nil
end

local function name_of(id)
  local p = person(id)
  return p and p.name or (id ~= '-' and id or '')
end

-- One history entry in words (the event.* texts).  Entries keep the
-- internal names they were written with (deputy ids, routing rules,
-- levels, deadline kinds); only their words reach a person.
local function event_words(e)
  local ev, text = e.event or '', e.text or ''
  local vars = { text = text }
  if ev == 'assigned' then
    local d, rule = string.match(text, '^(%S+) (%S+)$')
    vars.text, vars.deputy, vars.rule = '', name_of(d), rule and word('rule.' .. rule) or ''
  elseif ev == 'transferred' then
    local from, to, note = string.match(text, '^(%S+) %-> (%S+) ?(.*)$')
    vars.from, vars.deputy = name_of(from), name_of(to)
    vars.text = e.actor == 'system' and '' or (note or '')
  elseif ev == 'escalated' then
    local level, note = string.match(text, '^(%S+) ?(.*)$')
    vars.level = level and word('level.' .. level) or ''
    vars.text = note or ''
    -- Deadline escalations once noted the kind ("accept"), now its words.
    for _, kind in ipairs(DEADLINES) do
      if note == kind then vars.text = word('action.' .. kind) end
    end
  elseif ev == 'reminded' then
    local kind = string.match(text, '^(%S+)')
    vars.text, vars.action = '', kind and word('action.' .. kind) or ''
  elseif ev == 'rated' or ev == 'reopened' then
    vars.rating = text
  elseif ev == 'category_corrected' then
    local a, b = string.match(text, '^(%S+) %-> (%S+)$')
    vars.text, vars.previous, vars.category = '', a and category_name(a) or '', b and category_name(b) or ''
  end
  if not cfg('t:event.' .. ev) then return render('event.other', vars) end
  return render('event.' .. ev, vars)
end

local function deputy_detail(c)
  local steps = {}
  for _, e in ipairs(hist_read(c.id, c.compacted, -3, -1)) do steps[#steps + 1] = event_words(e) end
  local p = person(c.deputy)
  reply(render('deputy_detail', { case = c.id, topic = topic_of(c), category = category_name(c.category),
    state = state_name(c.state), text = c.text, place = c.place ~= '' and c.place or '-',
    resident = c.masked, history = table.concat(steps, '；'), deputy = p and p.name or '',
    station = p and p.station_name or '' }), c.id)
  return 'detail', c.id
end

-- A deputy's command as the step works on it: from this message, or
-- from the question it left open ({label, alts, case, body, question,
-- target, target_name, target_ids, certain}).
local function command_of_message()
  return { label = intent.label, alts = intent.alts, case = env.case, body = env.body or '',
           question = env.question, target = env.target, target_name = env.target_name,
           target_ids = env.target_ids, certain = intent.certain ~= false }
end

-- Nothing is done on a guess: the command waits in a session while the
-- deputy is asked to choose by number.  Past the bound on open questions
-- the deputy is told how to write the command instead.
local function ask_deputy(cmd, ask, options, question)
  if not hold_session({ deputy = env.deputy, cmd = cmd, ask = ask, options = options,
                        question = question, ts = nows }) then
    reply(render('deputy_help', {}), cmd.case)
    return 'need_' .. ask, cmd.case
  end
  reply(question, cmd.case)
  return 'asked_' .. ask, cmd.case
end

local function ask_case(cmd, open)
  local items, options = {}, {}
  for i = 1, math.min(#open, PICK_MAX) do
    local c = load_case(open[i])
    options[i] = open[i]
    items[i] = render('deputy_pick_case_item', { n = i, case = open[i], topic = c and topic_of(c) or '',
      state = c and state_name(c.state) or '' })
  end
  return ask_deputy(cmd, 'case', options,
    render('deputy_pick_case', { count = #open, items = table.concat(items, ' ') }))
end

local function ask_command(cmd, c)
  local options, seen = {}, {}
  local function offer(label, guessed)
    local ev = COMMAND_EVENT[label]
    -- To fill up, a transfer is offered only when the message names whom to.
    if #options >= OFFER_MAX or not ev or seen[label] or
       (ev == 'transfer' and not cmd.target and not guessed) then return end
    seen[label] = true
    options[#options + 1] = label
  end
  for _, label in ipairs(cmd.alts or {}) do offer(label, true) end
  offer(cmd.label, true)
  for _, label in ipairs(OFFER_ORDER) do offer(label, false) end
  local items = {}
  for i, label in ipairs(options) do
    items[i] = render('deputy_pick_command_item', { n = i, action = word('option.' .. COMMAND_EVENT[label]) })
  end
  return ask_deputy(cmd, 'command', options,
    render('deputy_pick_command', { case = c.id, topic = topic_of(c), items = table.concat(items, ' ') }))
end

-- The command is certain (or confirmed by the deputy's digit) and case
-- `c` is theirs: do it.  Only here does a deputy's text reach a resident.
local function act(cmd, c, ev)
  local me, id = env.deputy, c.id
  local p = person(me)
  local body = cmd.body or ''
  local vars = { case = id, deputy = p and p.name or me, text = body, topic = topic_of(c) }

  if ev == 'transfer' then
    if not cmd.target then
      vars.target = cmd.target_name or ''
      if cmd.target_ids then
        local items = {}
        for i, d in ipairs(cmd.target_ids) do
          local tp = person(d)
          items[i] = render('deputy_ambiguous_item', { id = d, station = tp and tp.station_name or '' })
        end
        vars.count, vars.items, vars.example = #cmd.target_ids, table.concat(items, '、'), cmd.target_ids[1]
        reply(render('deputy_ambiguous_deputy', vars), id)
      else
        reply(render(vars.target ~= '' and 'deputy_unknown_deputy' or 'deputy_need_target', vars), id)
      end
      return 'unknown_deputy', id
    end
    local action = transfer(c, cmd.target, me, body)
    local tp = person(cmd.target)
    vars.target = tp and tp.name or cmd.target
    local answers = { transferred = 'deputy_transferred', unknown_deputy = 'deputy_unknown_deputy',
                      same_deputy = 'deputy_transfer_self' }
    if answers[action] then
      reply(render(answers[action], vars), id)
    else
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.transfer') }), id)
    end
    return action, id
  end
  if ev == 'escalate' then
    if not allowed('escalate', c.state) then
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.escalate') }), id)
      return 'bad_state', id
    end
    local level = escalate(c, me, body)
    -- Already as high as it goes: the deputy is told where it is, the
    -- resident is not told again.
    vars.level = word((level or tonumber(c.escalated)) == 1 and 'level.station' or 'level.committee')
    if level then push(c, render('escalated', vars)) end
    reply(render(level and 'deputy_escalated' or 'deputy_escalated_already', vars), id)
    return level and 'escalated' or 'escalated_already', id
  end
  if ev == 'deliberate' then
    local st = station(c.station)
    local others = {}
    for _, d in ipairs(st and st.group or {}) do
      if d ~= me and person(d) then others[#others + 1] = d end
    end
    if #others == 0 then
      reply(render('deputy_group_none', vars), id)
      return 'group_none', id
    end
    history(id, me, 'deliberation', body)
    redis.call('HSET', case_key(id), 'group_by', me, 'group_at', nows)
    vars.note, vars.text, vars.count = body, c.text, #others
    for _, d in ipairs(others) do notify(person(d), render('group_ask', vars), id) end
    reply(render('deputy_group_sent', vars), id)
    return 'deliberation', id
  end
  if ev == 'reply' then
    if c.state == S.closed or c.state == S.withdrawn then
      reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
        action = word('action.reply') }), id)
      return 'bad_state', id
    end
    history(id, me, 'asked', body)
    redis.call('HSET', K.res .. c.channel .. ':' .. c.addr, 'relay_case', id, 'relay_at', nows)
    -- Worded as a question only when it is one (step_is_question in src/core/step.c).
    send(c.channel, c.addr, render(cmd.question and 'relay_to_resident' or 'relay_statement', vars), id, 'reply')
    reply(render('deputy_relayed', vars), id)
    return 'relayed', id
  end

  local to = allowed(ev, c.state)
  if not to then
    reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
      action = word('action.' .. ev) }))
    return 'bad_state', id
  end
  if ev == 'accept' then
    set_state(c, to, me, 'accepted', body)
    -- accepted again after a reopening: counted once (lib/agg.lua)
    if not c.accepted_at then agg_bump('accepted', c, 1) end
    redis.call('HSET', case_key(id), 'accepted_at', nows)
    push(c, render('accepted', vars))
    reply(render('deputy_accepted', vars), id)
    return 'accepted', id
  elseif ev == 'progress' then
    set_state(c, to, me, 'progress', body)
    redis.call('HSET', case_key(id), 'latest', body)
    if not c.accepted_at then
      redis.call('HSET', case_key(id), 'accepted_at', nows)
      agg_bump('accepted', c, 1)
    end
    if not c.progress_at then redis.call('HSET', case_key(id), 'progress_at', nows) end
    push(c, render('progress', vars))
    reply(render('deputy_progress', vars), id)
    return 'progress', id
  end
  -- resolve
  set_state(c, to, me, 'resolved', body)
  -- Resolved without 接单: taken on now, as with a first progress report,
  -- so that "accepted" is one fact (accepted_at) for the statistics.
  local fields = { 'latest', body, 'result', body, 'resolved_at', nows }
  if not c.accepted_at then
    fields[#fields + 1] = 'accepted_at'
    fields[#fields + 1] = nows
    agg_bump('accepted', c, 1)
  end
  redis.call('HSET', case_key(id), unpack(fields))
  redis.call('ZREM', K.dq .. me, id)
  redis.call('HSET', K.res .. c.channel .. ':' .. c.addr, 'rating_case', id)
  redis.call('ZADD', K.timers, nows + opt.rating_s, 'rating|' .. id)
  push(c, rating_request(vars))
  reply(render('deputy_resolved', vars), id)
  return 'resolved', id
end

-- 意见 and 议定 on case `c`: from any deputy of the case's station
-- (its group), and the outcome from the station's liaison (the case's
-- deputy where the station has none).  The outcome reaches the resident
-- as progress.
local function group_act(cmd, c, ev)
  local me, id = env.deputy, c.id
  local p = person(me)
  local body = cmd.body or ''
  local st = station(c.station)
  local vars = { case = id, deputy = p and p.name or me, text = body, topic = topic_of(c) }
  if ev == 'opinion' then
    local member = c.deputy == me
    for _, d in ipairs(st and st.group or {}) do member = member or d == me end
    if not member then
      reply(render('deputy_not_group', vars), id)
      return 'not_group', id
    end
    history(id, me, 'opinion', vars.deputy .. '：' .. body)
    local asker = (c.group_by and c.group_by ~= '') and c.group_by or c.deputy
    vars.asker = name_of(asker)
    if asker ~= me then notify(person(asker), render('group_opinion', vars), id) end
    reply(render('deputy_opinion_noted', vars), id)
    return 'opinion', id
  end
  -- decide
  local liaison = (st and st.liaison and st.liaison ~= '') and st.liaison or c.deputy
  if me ~= liaison then
    vars.liaison = name_of(liaison)
    reply(render('deputy_not_liaison', vars), id)
    return 'not_liaison', id
  end
  if not (SCHEMA.states[c.state] and SCHEMA.states[c.state].open) then
    reply(render('deputy_bad_state', { case = id, state = state_name(c.state),
      action = word('action.decide') }), id)
    return 'bad_state', id
  end
  local to = allowed('progress', c.state)
  if to then
    set_state(c, to, me, 'decided', body)
  else
    history(id, me, 'decided', body)
  end
  redis.call('HSET', case_key(id), 'latest', body)
  if not c.progress_at then redis.call('HSET', case_key(id), 'progress_at', nows) end
  push(c, render('decided', vars))
  local told = { [me] = true }
  for _, d in ipairs({ c.deputy, c.group_by }) do
    if d and d ~= '' and not told[d] then
      told[d] = true
      notify(person(d), render('deputy_group_decided', vars), id)
    end
  end
  reply(render('deputy_decided', vars), id)
  return 'decided', id
end

-- 拆分 M1002 / 合并 M1005 R1001: the deputy's own cases only (the issue's
-- deputy is theirs already, nothing is transferred).  The target of a
-- join is read from the text as sent (the daemon wrote an R as a case
-- number for matching): its last number, an R or a case.
local function join_target(text)
  local pre, num
  for p, n in string.gmatch(string.upper(text or ''), '(%a*)(%d%d%d+)') do pre, num = p, n end
  if not num then return nil end
  if pre == '' then pre = opt.prefix end
  return pre .. num
end

local function by_deputy(cmd, c, ev)
  local me = env.deputy
  local vars = { case = c.id, common = c.common or '' }
  local action, rid
  if ev == 'split' then
    action, rid = common_split(c, me)
  else
    local target = join_target(msg.text)
    local owner
    if is_common_id(target) then
      local m = load_common(target)
      owner = m and m.deputy
    else
      owner = hget(case_key(target or ''), 'deputy')
    end
    if not target or not owner then
      reply(render('deputy_unknown_case', { case = target or '' }), c.id)
      return 'unknown_case', c.id
    end
    if owner ~= me then
      reply(render('deputy_foreign_case', { case = target }), c.id)
      return 'foreign_case', c.id
    end
    action, rid = common_join(c, target, me)
  end
  vars.common = rid or vars.common
  if action == 'split' or action == 'dissolved' then
    reply(render('deputy_split', vars), c.id)
  elseif action == 'joined' then
    local m = load_common(rid)
    vars.count = m and m.count or ''
    reply(render('deputy_joined', vars), c.id)
  elseif action == 'not_common' or action == 'already_common' then
    reply(render('deputy_' .. action, vars), c.id)
  else
    reply(render('deputy_bad_state', { case = c.id, state = state_name(c.state),
      action = word('action.' .. ev) }), c.id)
  end
  return action, c.id
end

-- A command on a common issue (R1003): done case by case, each resident
-- told as for their own case, the deputies answered once for the issue.
-- 小组商 and 上报 work on the issue's first case (one deliberation, one
-- escalation), 议定 on every case.
local function run_common(cmd, rid, ev)
  local me = env.deputy
  local m = load_common(rid)
  if not m then
    reply(render('deputy_unknown_case', { case = rid }))
    return 'unknown_case', rid
  end
  if m.deputy ~= me and not GROUP_EVENT[ev] then
    reply(render('deputy_foreign_case', { case = rid }))
    return 'foreign_case', rid
  end
  local ids = common_cases(m)
  if ev == 'detail' then
    reply(render('deputy_common_detail', common_vars(m, { cases = table.concat(ids, '、') })), rid)
    return 'detail', rid
  end
  local as_case = { id = rid, title = m.title, category = m.category }
  if not cmd.certain then return ask_command(cmd, as_case) end
  if ev == 'deliberate' or ev == 'escalate' or ev == 'opinion' then
    local c = load_case(m.lead)
    if not c then
      reply(render('deputy_unknown_case', { case = rid }))
      return 'unknown_case', rid
    end
    if ev == 'opinion' then return group_act(cmd, c, ev) end
    return act(cmd, c, ev)
  end
  -- whom to: asked or refused as for a case, before any case is touched
  if ev == 'transfer' and not cmd.target then return act(cmd, as_case, ev) end
  local done = 0
  hush.on = true
  for _, cid in ipairs(ids) do
    local c = load_case(cid)
    if c and (c.deputy == me or ev == 'decide') then
      local a = GROUP_EVENT[ev] and group_act(cmd, c, ev) or act(cmd, c, ev)
      if DONE_ACTION[a] then done = done + 1 end
    end
  end
  hush.on = false
  local vars = common_vars(m, { action = word('action.' .. ev), count = done })
  if done == 0 then
    reply(render('deputy_common_none', vars), rid)
    return 'bad_state', rid
  end
  if ev == 'transfer' then
    redis.call('HSET', common_key(rid), 'deputy', cmd.target)
    local p = person(me)
    notify(person(cmd.target), render('deputy_common_in', common_vars(m, { from = p and p.name or '' })), rid)
  elseif ev == 'decide' and m.deputy ~= me then
    local p = person(me)
    notify(person(m.deputy), render('deputy_group_decided', { case = rid, topic = vars.topic,
      text = cmd.body or '', deputy = p and p.name or me }), rid)
  elseif ev == 'resolve' then
    redis.call('ZREM', K.commons, rid)
    redis.call('HSET', common_key(rid), 'resolved_at', nows)
  end
  reply(render('deputy_common_done', vars), rid)
  return 'common_' .. ev, rid
end

-- A command from a message or a confirmed question: find its case (ask
-- when the deputy has several open and named none), check it is theirs,
-- and ask again when the engine was unsure what the deputy meant.
-- Reading (待办, 详情) changes nothing and reaches no one: never asked.
local function run_command(cmd)
  local me = env.deputy
  if cmd.label == 'cmd.list' then return deputy_list(me) end
  local ev = COMMAND_EVENT[cmd.label]
  if not ev then
    reply(render('deputy_help', {}))
    return 'deputy_help', nil
  end
  local id = cmd.case
  if is_common_id(id) and (ev == 'split' or ev == 'join') then
    reply(render('deputy_common_which', { common = id }), id)
    return 'need_case', id
  end
  if is_common_id(id) then return run_common(cmd, id, ev) end
  if not id then
    local open = redis.call('ZRANGE', K.dq .. me, 0, -1)
    if #open > 1 then return ask_case(cmd, open) end
    if #open == 0 then
      reply(render('deputy_need_case', { count = 0 }))
      return 'need_case', nil
    end
    id = open[1]
    cmd.case = id
  end
  local c = load_case(id)
  if not c then
    reply(render('deputy_unknown_case', { case = id }))
    return 'unknown_case', id
  end
  if GROUP_EVENT[ev] then
    if not cmd.certain then return ask_command(cmd, c) end
    return group_act(cmd, c, ev)
  end
  if c.deputy ~= me then
    reply(render('deputy_foreign_case', { case = id }))
    return 'foreign_case', id
  end
  if ev == 'detail' then return deputy_detail(c) end
  if ev == 'split' or ev == 'join' then return by_deputy(cmd, c, ev) end
  if not cmd.certain then return ask_command(cmd, c) end
  return act(cmd, c, ev)
end

local function deputy()
  -- A question left open: a digit in range answers it; any other message
  -- drops it and is read on its own.
  local raw = hget(RK, 'session')
  if raw then
    local s = cjson.decode(raw)
    local choice = env.digit and s.options and s.options[env.digit]
    if env.digit and not choice then
      reply(s.question or '')
      return 'asked_' .. (s.ask or ''), s.cmd and s.cmd.case
    end
    drop_session()
    if choice then
      local cmd = s.cmd
      if s.ask == 'case' then
        cmd.case = choice
      else
        cmd.label, cmd.certain = choice, true
      end
      return run_command(cmd)
    end
  end
  -- A deputy's thanks or "知道了" needs no answer (an SMS costs money and
  -- the deputy's attention); emoji alone are no command, whatever the
  -- engine made of them.
  if intent.label == 'chat.thanks' and not env.empty then return 'deputy_thanks', nil end
  if intent.kind ~= 'command' or env.empty then
    reply(render('deputy_help', {}))
    return 'deputy_help', nil
  end
  return run_command(command_of_message())
end

