-- Ratings by aspect (rating.aspects) and 回头看 (timers.revisit_s): what
-- a resident said is recorded by exactly two functions, record_rating and
-- record_revisit, the one place anything counting ratings or revisits
-- (statistics, aggregates) needs to hook into.  docs/lifecycle.md.

-- ASPECTS: the configured aspects, in order (read by first_read, 10_config.lua).
local ASPECT_EXAMPLE = { '5', '4', '5', '4', '5' }
local function aspect_vars(vars)
  vars.aspects = table.concat(ASPECTS, '、')
  vars.example = table.concat(ASPECT_EXAMPLE, '', 1, #ASPECTS)
  return vars
end

-- The rating request sent with a result, and the answer to a rating that
-- could not be read: per aspect when aspects are configured.
local function rating_request(vars)
  if #ASPECTS > 0 then return render('resolved_aspects', aspect_vars(vars)) end
  return render('resolved', vars)
end
local function rating_invalid_text(id)
  if #ASPECTS > 0 then return render('rating_invalid_aspects', aspect_vars({ case = id })) end
  return render('rating_invalid', { case = id })
end

-- Case hash fields of a rating: `rating` (1-5 overall: the digit, or the
-- rounded mean of the aspects), `rated_at`, and with aspects one field
-- `aspect:<name>` (1-5) per configured aspect, in the names configured
-- when the resident rated (a single digit leaves none).
local function record_rating(c, r, scores)
  -- A rating replaces the one before a reopening, aspects and all
  -- (lib/agg.lua).
  if tonumber(c.rating) then agg_bump('rating.' .. tonumber(c.rating), c, -1) end
  agg_bump('rating.' .. r, c, 1)
  for _, name in ipairs(ASPECTS) do
    local old = tonumber(c['aspect:' .. name])
    if old then agg_bump('aspect.' .. name .. '.' .. old, c, -1) end
  end
  local fields = { 'rating', r, 'rated_at', nows }
  if type(scores) == 'table' and #scores == #ASPECTS then
    for i, name in ipairs(ASPECTS) do
      fields[#fields + 1] = 'aspect:' .. name
      fields[#fields + 1] = tonumber(scores[i])
      agg_bump('aspect.' .. name .. '.' .. tonumber(scores[i]), c, 1)
    end
  end
  redis.call('HSET', case_key(c.id), unpack(fields))
  if #ASPECTS > 0 and #fields == 4 then
    -- a single digit after a reopening: no aspect scores of an earlier rating stand
    local old = {}
    for i, name in ipairs(ASPECTS) do old[i] = 'aspect:' .. name end
    redis.call('HDEL', case_key(c.id), unpack(old))
  end
end

-- Case hash fields of 回头看: `revisit_asked` (when the question went
-- out, written by ask_revisit), `revisit` (the latest answer: held or
-- relapsed), `revisit_at` (when), `revisits` and `relapses` (answers and
-- relapses so far: a case reopened, resolved and looked back at again
-- counts each time).
local function record_revisit(c, outcome)
  local key = case_key(c.id)
  redis.call('HSET', key, 'revisit', outcome, 'revisit_at', nows)
  redis.call('HINCRBY', key, 'revisits', 1)
  if (tonumber(c.revisits) or 0) == 0 then agg_bump('revisit.answered', c, 1) end
  if outcome == 'relapsed' then
    redis.call('HINCRBY', key, 'relapses', 1)
    if (tonumber(c.relapses) or 0) == 0 then agg_bump('revisit.relapsed', c, 1) end
  end
end

-- The revisit timer (armed with the closing, 50_deadlines.lua): a case
-- still closed asks its resident, who may answer within timers.rating_s.
-- A resident who opted out (退订), or whose data was erased (their hash
-- is gone, mashangctl residents erase), is not asked.
local function ask_revisit(id)
  local c = load_case(id)
  if not c or c.state ~= S.closed or (c.channel or '') == '' or (c.addr or '') == '' then return end
  local rk = res_key(c.channel, c.addr)
  local r = redis.call('HMGET', rk, 'optout', 'last_seen')
  if r[1] == '1' or not r[2] then return end
  if not tonumber(c.revisit_asked) then agg_bump('revisit.asked', c, 1) end
  redis.call('HSET', case_key(id), 'revisit_asked', nows)
  redis.call('HSET', rk, 'revisit_case', id, 'revisit_at', nows)
  history(id, 'system', 'revisit_asked', '')
  local p = person(c.deputy)
  push(c, render('revisit_ask', { case = id, topic = topic_of(c), deputy = p and p.name or '' }))
end

-- The resident's answer `v` (1 held, 2 not: step.c) to the question about
-- case `id`.  Held: recorded.  Not held: recorded, the case reopens as a
-- revisit (assigned to its deputy again, deadlines rearmed), and the
-- deputy and the committee are told.
local function answer_revisit(id, v)
  redis.call('HDEL', RK, 'revisit_case', 'revisit_at')
  local c = load_case(id)
  if not owns(c) or c.state ~= S.closed then return nil end
  local vars = { case = id, topic = topic_of(c), category = category_name(c.category) }
  if v == 1 then
    record_revisit(c, 'held')
    history(id, 'resident', 'revisit_held', msg.text)
    reply(render('revisit_held', vars), id)
    return 'revisit_held', id
  end
  record_revisit(c, 'relapsed')
  set_state(c, next_state('revisit', c.state), 'resident', 'revisit_relapsed', msg.text)
  local p = person(c.deputy)
  if p then redis.call('ZADD', K.dq .. c.deputy, nows, id) end
  redis.call('ZADD', RCASES, nows, id)
  arm_all(c)
  vars.deputy = p and p.name or ''
  vars.station = p and p.station_name or ''
  vars.text = (msg.text ~= '2' and msg.text) or ''
  reply(render('revisit_relapsed', vars), id)
  notify(p, render('revisit_notice', vars), id)
  notify(committee(), render('revisit_notice', vars), id)
  return 'revisit_reopened', id
end

-- Whether this message answers a pending revisit question: it says held
-- or not (env.revisit: short words or a digit, step.c), the question is
-- within its window, it is not the digit of a rating that is pending as
-- well (the rating goes first), and it is no concern of another category.
local function revisit_pending()
  local id = rk_cache.revisit_case
  if not id then return nil end
  if nows - (tonumber(rk_cache.revisit_at) or 0) > (tonumber(opt.rating_s) or 0) then
    redis.call('HDEL', RK, 'revisit_case', 'revisit_at')
    return nil
  end
  if not env.revisit or (rk_cache.rating_case and intent.label == 'chat.rating') then return nil end
  -- "水管又漏了" while a streetlight is looked back at is a new concern
  -- (the relapse of a case is of its category).
  if intent.kind == 'concern' and intent.certain ~= false and
     intent.label ~= hget(case_key(id), 'category') then
    return nil
  end
  return id
end
