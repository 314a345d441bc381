-- Administrators' reads and outbox maintenance (src/admin*.c).
--
-- KEYS[1] is the prefix "{ns}:"; ARGV[1] the operation, then its
-- arguments.  Every operation but outbox_retry, outbox_uncertain_settle,
-- resident_erase, label, note, outbox_retry_one and routed is read-only (gauges but once: it
-- builds the case gauges of data older than them).  Answers
-- are one JSON document (cjson) that the daemon parses and reshapes, so
-- the C side owns the HTTP format.  Each walk over the all-cases zset is
-- bounded by SCAN_MAX so an administrator's click can never stall Redis
-- for long; answers say "truncated" when the bound was hit (only the
-- one-time build of the case gauges walks them all).
--@use schema
--@use keys
--@use overdue
--@use casestate
--@use history
--@use settle
local P = KEYS[1]
local op = ARGV[1]
local SCAN_MAX = 50000
local BATCH = 500
local CASES = K.cases
-- The teach loop: cases the intents engine was unsure of (written by
-- step.lua's open_case, by time), and administrators' corrections as
-- training examples (case -> JSON {label, text, case, ts}; one per case,
-- a later correction replaces it) with their order (by time).
local REVIEW = K.review
local CORRECTIONS = P .. 'corrections'
local CORRECTIONS_TS = P .. 'corrections:ts'

local function case_key(id) return K.case .. id end

local function is_open(state) return SCHEMA.states[state] ~= nil and SCHEMA.states[state].open end

-- Walks the cases zset newest first (within [lo, hi] seconds), calling
-- fn(id) until it returns true or SCAN_MAX ids were seen.  Returns the
-- number seen and whether the bound cut the walk short.
local function walk(lo, hi, fn)
  local offset, seen = 0, 0
  while seen < SCAN_MAX do
    local n = math.min(BATCH, SCAN_MAX - seen)
    local ids = redis.call('ZREVRANGEBYSCORE', CASES, hi, lo, 'LIMIT', offset, n)
    if #ids == 0 then return seen, false end
    for _, id in ipairs(ids) do
      seen = seen + 1
      if fn(id) then return seen, false end
    end
    offset = offset + #ids
  end
  return seen, redis.call('ZCOUNT', CASES, lo, hi) > seen
end

local LIST_FIELDS = { 'id', 'state', 'category', 'title', 'deputy', 'station', 'routed_by',
                      'created', 'updated', 'accepted_at', 'resolved_at', 'rating', 'place',
                      'latest', 'masked', 'channel', 'text' }
local NUMERIC = { created = true, updated = true, accepted_at = true, resolved_at = true,
                  rating = true, rated_at = true, confidence = true }

-- Case hash fields as a table; numbers as numbers, empty fields left out.
-- The resident's address ("addr") is never included, only "masked".
local function shape(names, values)
  local c = {}
  for i, name in ipairs(names) do
    local v = values[i]
    if v and v ~= '' and name ~= 'addr' then
      if NUMERIC[name] then v = tonumber(v) end
      c[name] = v
    end
  end
  return c
end

local function range(from, to)
  local lo, hi = '-inf', '+inf'
  if from and from ~= '' then lo = from end
  if to and to ~= '' then hi = to end
  return lo, hi
end

-- list FILTER_JSON: {state,deputy,station,category,from,to,overdue,limit,now,accept_s,resolve_s}
if op == 'list' then
  local f = cjson.decode(ARGV[2])
  local lo, hi = range(f.from, f.to)
  local out = {}
  local now, timers = tonumber(f.now), { accept = f.accept_s, resolve = f.resolve_s }
  local limit = tonumber(f.limit) or 100
  local seen, truncated = walk(lo, hi, function(id)
    local v = redis.call('HMGET', case_key(id), unpack(LIST_FIELDS))
    local c = shape(LIST_FIELDS, v)
    if not c.state then return false end
    if f.state and f.state ~= '' and c.state ~= f.state then return false end
    if f.deputy and f.deputy ~= '' and c.deputy ~= f.deputy then return false end
    if f.station and f.station ~= '' and c.station ~= f.station then return false end
    if f.category and f.category ~= '' and c.category ~= f.category then return false end
    local od = is_overdue(c.state, c.created, now, timers)
    if f.overdue and not od then return false end
    c.overdue = od
    out[#out + 1] = c
    return #out >= limit
  end)
  return cjson.encode({ cases = out, scanned = seen, truncated = truncated })
end

-- show ID [HISTORY_MAX]
if op == 'show' then
  local id = ARGV[2]
  local h = redis.call('HGETALL', case_key(id))
  if #h == 0 then return cjson.encode({ found = false }) end
  local names, values = {}, {}
  for i = 1, #h, 2 do
    names[#names + 1] = h[i]
    values[#values + 1] = h[i + 1]
  end
  local c = shape(names, values)
  local hist = hist_read(id, c.compacted, 1, tonumber(ARGV[3]) or 1000)
  return cjson.encode({ found = true, case = c, history = hist })
end

-- deputies ID... -> [[id, open, oldest_id, oldest_since], ...] in argument order
if op == 'deputies' then
  local out = {}
  for i = 2, #ARGV do
    local q = K.dq .. ARGV[i]
    local n = redis.call('ZCARD', q)
    local first = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
    if #first == 2 then
      out[#out + 1] = { ARGV[i], n, first[1], tonumber(first[2]) }
    else
      out[#out + 1] = { ARGV[i], n, '', 0 }
    end
  end
  return cjson.encode({ deputies = out })
end

-- stats FROM TO -> one compact record per case created within [FROM, TO]:
-- [deputy, station, category, state, created, accepted_at, resolved_at, rating]
-- (aggregation, medians and overdue are done in C: src/admin/admin_stats.c)
local STAT_FIELDS = { 'deputy', 'station', 'category', 'state', 'created', 'accepted_at',
                      'resolved_at', 'rating' }
if op == 'stats' then
  local lo, hi = range(ARGV[2], ARGV[3])
  local out = {}
  local seen, truncated = walk(lo, hi, function(id)
    local v = redis.call('HMGET', case_key(id), unpack(STAT_FIELDS))
    if v[4] then
      out[#out + 1] = { v[1] or '', v[2] or '', v[3] or '', v[4], tonumber(v[5]) or 0,
                        tonumber(v[6]) or 0, tonumber(v[7]) or 0, tonumber(v[8]) or 0 }
    end
    return false
  end)
  return cjson.encode({ records = out, scanned = seen, truncated = truncated })
end

-- gauges NOW ACCEPT_S RESOLVE_S -> cases by state, overdue, outbox sizes.
-- Cases by state come from the gauge hash every state change keeps
-- (lib/casestate.lua), the overdue count from the deadline sets with one
-- ZCOUNT a deadline: no case is read.  Data written before the hash
-- existed lacks its "_built" mark: the hash and the sets are then built
-- once from every case (one full walk, this scrape only).
if op == 'gauges' then
  local now, timers = tonumber(ARGV[2]), { accept = ARGV[3], resolve = ARGV[4] }
  local h = redis.call('HGETALL', K.gauge)
  local states, built = {}, false
  for i = 1, #h, 2 do
    if h[i] == '_built' then built = true else states[h[i]] = tonumber(h[i + 1]) end
  end
  if not built then
    local dues = {}
    for _, d in ipairs(SCHEMA.deadline_order) do dues[#dues + 1] = K.due .. d end
    redis.call('DEL', K.gauge, unpack(dues))
    states = {}
    local offset = 0
    while true do
      local ids = redis.call('ZRANGE', CASES, offset, offset + BATCH - 1)
      if #ids == 0 then break end
      for _, id in ipairs(ids) do
        local v = redis.call('HMGET', case_key(id), 'state', 'created')
        if v[1] then
          states[v[1]] = (states[v[1]] or 0) + 1
          case_moved(id, v[2], nil, v[1])
        end
      end
      offset = offset + #ids
    end
    redis.call('HSET', K.gauge, '_built', now)
  end
  for s, n in pairs(states) do
    if n == 0 then states[s] = nil end
  end
  return cjson.encode({ states = states, overdue = count_overdue(now, timers), scanned = 0,
                        truncated = false,
                        ready = redis.call('ZCARD', K.outbox_ready),
                        inflight = redis.call('ZCARD', K.outbox_inflight),
                        dead = redis.call('LLEN', K.outbox_dead),
                        uncertain = redis.call('LLEN', K.outbox_uncertain) })
end

-- outbox_dead LIMIT -> the oldest dead messages (the daemon masks "to")
local OUT_FIELDS = { 'channel', 'to', 'text', 'case', 'kind', 'attempts', 'created',
                     'last_error', 'dead_at', 'uncertain_at', 'reclaimed', 'started' }
local OUT_NUMBERS = { attempts = true, created = true, dead_at = true, uncertain_at = true,
                      reclaimed = true, started = true }
-- A resident's own data (export) and its erasure, by channel and address.
-- resident_export CHANNEL ADDR -> {resident, cases:[{case, history}], limited, held, truncated}
-- resident_erase CHANNEL ADDR NOW -> {cases, closed, outbox, truncated}
local function resident_cases(channel, addr)
  local ids = {}
  local _, truncated = walk('-inf', '+inf', function(id)
    local h = redis.call('HMGET', case_key(id), 'channel', 'addr')
    if h[1] == channel and h[2] == addr then ids[#ids + 1] = id end
    return false
  end)
  return ids, truncated
end

if op == 'resident_export' then
  local channel, addr = ARGV[2], ARGV[3]
  local rk = K.res .. channel .. ':' .. addr
  local ids, truncated = resident_cases(channel, addr)
  local cases = {}
  for _, id in ipairs(ids) do
    local h = redis.call('HGETALL', case_key(id))
    local c = {}
    for i = 1, #h, 2 do c[h[i]] = h[i + 1] end
    cases[#cases + 1] = { case = c, history = hist_read(id, c.compacted, 1, -1) }
  end
  local res = {}
  local h = redis.call('HGETALL', rk)
  for i = 1, #h, 2 do res[h[i]] = h[i + 1] end
  return cjson.encode({ channel = channel, addr = addr, resident = res, cases = cases,
    limited = redis.call('LRANGE', K.limited .. channel .. ':' .. addr, 0, -1),
    held = redis.call('LRANGE', K.held .. channel .. ':' .. addr, 0, -1),
    truncated = truncated })
end

if op == 'resident_erase' then
  local channel, addr, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local ids, truncated = resident_cases(channel, addr)
  local closed = 0
  for _, id in ipairs(ids) do
    local k = case_key(id)
    local state, deputy, compacted = unpack(redis.call('HMGET', k, 'state', 'deputy', 'compacted'))
    if is_open(state) then
      -- Nobody could be told of progress any more: the case ends here.
      local created = redis.call('HGET', k, 'created')
      redis.call('HSET', k, 'state', SCHEMA.S.withdrawn, 'updated', now)
      case_moved(id, created, state, SCHEMA.S.withdrawn)
      if deputy and deputy ~= '' then redis.call('ZREM', K.dq .. deputy, id) end
      closed = closed + 1
    end
    redis.call('HSET', k, 'addr', 'erased', 'masked', '***', 'text', '[已删除]', 'place', '',
      'latest', '', 'result', '')
    local hist = hist_read(id, compacted, 1, -1)
    for _, e in ipairs(hist) do
      if e.actor == 'resident' or e.event == 'opened' or e.event == 'followup' then
        e.text = '[已删除]'
      end
    end
    hist[#hist + 1] = { ts = now, actor = 'admin', event = 'erased', text = '' }
    hist_write(id, compacted, hist)
    -- the resident's words live on nowhere: no training example, no review entry
    redis.call('HDEL', CORRECTIONS, id)
    redis.call('ZREM', CORRECTIONS_TS, id)
    redis.call('ZREM', REVIEW, id)
  end
  -- Messages still waiting to go to that address are dropped.
  local dropped = 0
  for _, oid in ipairs(redis.call('ZRANGE', K.outbox_ready, 0, -1)) do
    local ok = K.out .. oid
    if redis.call('HGET', ok, 'to') == addr and redis.call('HGET', ok, 'channel') == channel then
      redis.call('ZREM', K.outbox_ready, oid)
      redis.call('DEL', ok)
      dropped = dropped + 1
    end
  end
  local suffix = channel .. ':' .. addr
  redis.call('DEL', K.res .. suffix, K.rcases .. suffix, K.held .. suffix,
    K.limited .. suffix)
  redis.call('ZREM', K.timers, 'session|' .. channel .. '|' .. addr)
  return cjson.encode({ cases = #ids, closed = closed, outbox = dropped, truncated = truncated })
end

-- label ID LABEL NOW CANDIDATE... -> {found, previous, state, deputy,
-- routed_by, loads}: an administrator's correction of the case's category.
-- Sets it (clearing the intent's title, which named the old reading),
-- notes it in the history when it changed, keeps the text as a training
-- example (not for an erased resident) and takes the case off the review
-- list.  `loads` are the open cases of each CANDIDATE (the corrected
-- category's topic group), from which the daemon picks where the case
-- goes (src/admin/admin_teach.c); the move itself is step.lua's transfer.
if op == 'label' then
  local id, label, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local k = case_key(id)
  local v = redis.call('HMGET', k, 'state', 'category', 'deputy', 'routed_by', 'text', 'addr')
  if not v[1] then return cjson.encode({ found = false }) end
  local previous = v[2] or ''
  if previous ~= label then
    redis.call('HSET', k, 'category', label, 'title', '')
    redis.call('RPUSH', K.hist .. id, cjson.encode({ ts = now, actor = 'admin',
      event = 'category_corrected', text = previous .. ' -> ' .. label }))
  end
  if v[6] ~= 'erased' then
    redis.call('HSET', CORRECTIONS, id, cjson.encode({ label = label, text = v[5] or '', case = id, ts = now }))
    -- Ordered by time, strictly: corrections within one second keep the
    -- order they were made in (the score is milliseconds, bumped past
    -- the newest one).
    local score = now * 1000
    local newest = redis.call('ZREVRANGE', CORRECTIONS_TS, 0, 0, 'WITHSCORES')
    if newest[2] and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
    redis.call('ZADD', CORRECTIONS_TS, score, id)
  end
  redis.call('ZREM', REVIEW, id)
  local loads = {}
  for i = 5, #ARGV do loads[#loads + 1] = redis.call('ZCARD', K.dq .. ARGV[i]) end
  return cjson.encode({ found = true, previous = previous, state = v[1], deputy = v[3] or '',
                        routed_by = v[4] or '', loads = loads })
end

-- outbox_retry_one ID NOW -> one dead letter queued again, due now, as
-- outbox_retry does for them all: {result = "retried"|"dropped"|"unknown"}
-- ("dropped": its hash had expired, it left the list with nothing to send).
if op == 'outbox_retry_one' then
  local id, now = ARGV[2], tonumber(ARGV[3])
  if redis.call('LREM', K.outbox_dead, 0, id) == 0 then return cjson.encode({ result = 'unknown' }) end
  local k = K.out .. id
  if redis.call('EXISTS', k) == 0 then return cjson.encode({ result = 'dropped' }) end
  redis.call('HSET', k, 'state', 'ready', 'attempts', 0, 'retried_at', now)
  redis.call('HDEL', k, 'owner', 'dead_at')
  redis.call('ZADD', K.outbox_ready, now, id)
  return cjson.encode({ result = 'retried' })
end

-- note ID NOW TEXT -> {found}: an administrator's internal note, appended
-- to the case's history and sent to nobody (src/admin/admin_note.c).
if op == 'note' then
  local id, now, text = ARGV[2], tonumber(ARGV[3]), ARGV[4]
  if redis.call('EXISTS', case_key(id)) == 0 then return cjson.encode({ found = false }) end
  redis.call('RPUSH', K.hist .. id, cjson.encode({ ts = now, actor = 'admin', event = 'note', text = text }))
  return cjson.encode({ found = true })
end

-- routed ID DEPUTY RULE -> {state, deputy, routed_by}: after the transfer a
-- correction caused, the rule that chose the deputy (topic / default)
-- replaces "transfer", if the case is still with that deputy.
if op == 'routed' then
  local k = case_key(ARGV[2])
  local v = redis.call('HMGET', k, 'state', 'deputy', 'routed_by')
  if v[2] == ARGV[3] and v[3] == 'transfer' then
    redis.call('HSET', k, 'routed_by', ARGV[4])
    v[3] = ARGV[4]
  end
  return cjson.encode({ state = v[1] or '', deputy = v[2] or '', routed_by = v[3] or '' })
end

-- corrections LIMIT [LABEL] [FROM] -> {corrections: [{label, text, case, ts}], total}
-- oldest first (training files grow at their end), only LABEL's if given,
-- only those made at or after FROM (Unix seconds) if given.
if op == 'corrections' then
  local limit, want = tonumber(ARGV[2]) or 10000, ARGV[3] or ''
  local lo = tonumber(ARGV[4] or '') and tonumber(ARGV[4]) * 1000 or '-inf'
  local out = {}
  local offset = 0
  while #out < limit do
    local ids = redis.call('ZRANGEBYSCORE', CORRECTIONS_TS, lo, '+inf', 'LIMIT', offset, BATCH)
    if #ids == 0 then break end
    local vals = redis.call('HMGET', CORRECTIONS, unpack(ids))
    for i = 1, #ids do
      local ok, e = pcall(cjson.decode, vals[i] or '')
      if ok and type(e) == 'table' and (want == '' or e.label == want) and #out < limit then
        out[#out + 1] = e
      end
    end
    offset = offset + #ids
  end
  return cjson.encode({ corrections = out, total = redis.call('ZCARD', CORRECTIONS_TS) })
end

-- review LIMIT -> {cases: [{id, flagged, confidence, category, state,
-- created, text}], total}, newest first (the daemon masks the text).
local REVIEW_FIELDS = { 'confidence', 'category', 'state', 'created', 'text' }
if op == 'review' then
  local limit = tonumber(ARGV[2]) or 100
  local out = {}
  local ids = redis.call('ZREVRANGE', REVIEW, 0, limit - 1, 'WITHSCORES')
  for i = 1, #ids, 2 do
    local v = redis.call('HMGET', case_key(ids[i]), unpack(REVIEW_FIELDS))
    if v[3] then
      local c = shape(REVIEW_FIELDS, v)
      c.id = ids[i]
      c.flagged = tonumber(ids[i + 1])
      c.text = v[5] or ''
      out[#out + 1] = c
    end
  end
  return cjson.encode({ cases = out, total = redis.call('ZCARD', REVIEW) })
end

-- outbox_dead LIMIT / outbox_uncertain LIMIT -> the oldest messages of
-- the dead-letter list / of the uncertain list (sent, maybe delivered,
-- never answered: a timeout or a crash mid-request)
local function out_list(list, limit)
  local out = {}
  for _, id in ipairs(redis.call('LRANGE', list, 0, limit - 1)) do
    local v = redis.call('HMGET', K.out .. id, unpack(OUT_FIELDS))
    local m = { id = id }
    for i, name in ipairs(OUT_FIELDS) do
      if v[i] and v[i] ~= '' then
        m[name] = OUT_NUMBERS[name] and tonumber(v[i]) or v[i]
      end
    end
    out[#out + 1] = m
  end
  return cjson.encode({ messages = out, total = redis.call('LLEN', list) })
end

if op == 'outbox_dead' then
  return out_list(K.outbox_dead, tonumber(ARGV[2]) or 100)
end
if op == 'outbox_uncertain' then
  return out_list(K.outbox_uncertain, tonumber(ARGV[2]) or 100)
end

-- outbox_uncertain_settle ID resend|drop NOW -> an administrator's word on
-- one uncertain message: "resend" queues it again, due now (the resident
-- may get it twice: that is the administrator's call), "drop" records it
-- as given up.  {result = "resent"|"dropped"|"unknown"}
if op == 'outbox_uncertain_settle' then
  local id, how, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local k = K.out .. id
  if redis.call('LREM', K.outbox_uncertain, 0, id) == 0 then
    return cjson.encode({ result = 'unknown' })
  end
  if redis.call('EXISTS', k) == 0 then
    return cjson.encode({ result = 'unknown' })
  end
  if how == 'resend' then
    redis.call('HSET', k, 'state', 'ready', 'resent_at', now)
    redis.call('HDEL', k, 'owner')
    redis.call('ZADD', K.outbox_ready, now, id)
    return cjson.encode({ result = 'resent' })
  end
  -- Given up: settled, kept a short while for the record (lib/settle.lua).
  redis.call('HSET', k, 'state', 'dropped', 'dropped_at', now)
  redis.call('EXPIRE', k, SETTLED_S)
  return cjson.encode({ result = 'dropped' })
end

-- outbox_retry NOW_MS MAX -> moves up to MAX dead ids back to the ready
-- queue, due now, with their attempts reset (a message whose hash has
-- expired is dropped from the dead list: there is nothing left to send).
if op == 'outbox_retry' then
  local now, max = tonumber(ARGV[2]), tonumber(ARGV[3]) or 10000
  local dead = K.outbox_dead
  local ids = redis.call('LRANGE', dead, 0, max - 1)
  local moved, dropped = 0, 0
  for _, id in ipairs(ids) do
    local k = K.out .. id
    if redis.call('EXISTS', k) == 1 then
      redis.call('HSET', k, 'state', 'ready', 'attempts', 0, 'retried_at', now)
      redis.call('HDEL', k, 'owner', 'dead_at')
      redis.call('ZADD', K.outbox_ready, now, id)
      moved = moved + 1
    else
      dropped = dropped + 1
    end
  end
  if #ids > 0 then redis.call('LTRIM', dead, #ids, -1) end
  return cjson.encode({ moved = moved, dropped = dropped, remaining = redis.call('LLEN', dead) })
end

return redis.error_reply('ERR unknown admin operation ' .. tostring(op))
