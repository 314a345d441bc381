-- Administrators' reads and outbox maintenance (src/admin*.c).
--
-- KEYS[1] is the prefix "{ns}:"; ARGV[1] the operation, then its
-- arguments.  Every operation but outbox_retry, outbox_uncertain_settle,
-- resident_erase, label, note, outbox_retry_one, routed and agg_rebuild is
-- read-only (gauges but once: it builds the case gauges of data older than
-- them).  Answers
-- are one JSON document (cjson) that the daemon parses and reshapes, so
-- the C side owns the HTTP format.  Each walk over the all-cases zset is
-- bounded by SCAN_MAX so an administrator's click can never stall Redis
-- for long; answers say "truncated" when the bound was hit (only the
-- one-time build of the case gauges walks them all; the aggregates'
-- rebuild walks them a batch a call).  The report reads the aggregates
-- (lib/agg.lua), no case.
--@use schema
--@use keys
--@use overdue
--@use agg
--@use casestate
--@use history
--@use settle
--@use cplace
-- The function <library>_admin: KEYS and ARGV are the FCALL's; all of
-- the script below runs at each call.
register('admin', function(KEYS, ARGV)
keys_bind(KEYS[1])
agg_begin()
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

-- common_list STATION LIMIT -> {common: [{id, station, category, title,
-- place, deputy, lead, residents, open, cases, created, updated}]}: the
-- open common issues, most residents first (the station's 重点问题),
-- only STATION's if not empty.  An issue whose cases were all handled
-- one by one is left out.
if op == 'common_list' then
  local station, limit = ARGV[2] or '', tonumber(ARGV[3]) or 100
  local out = {}
  local ids = redis.call('ZREVRANGE', K.commons, 0, SCAN_MAX - 1)
  for _, rid in ipairs(ids) do
    if #out >= limit then break end
    local h = redis.call('HGETALL', K.common .. rid)
    local m = {}
    for i = 1, #h, 2 do m[h[i]] = h[i + 1] end
    if m.id and (station == '' or m.station == station) then
      local cases, open = {}, 0
      for cid in string.gmatch(m.cases or '', '%S+') do
        cases[#cases + 1] = cid
        if is_open(redis.call('HGET', case_key(cid), 'state')) then open = open + 1 end
      end
      if open > 0 then
        out[#out + 1] = { id = m.id, station = m.station or '', category = m.category or '',
          title = m.title or '', place = m.place or '', deputy = m.deputy or '', lead = m.lead or '',
          residents = #cases, open = open, cases = cases, created = tonumber(m.created) or 0,
          updated = tonumber(m.updated) or 0 }
      end
    end
  end
  return cjson.encode({ common = out })
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
          case_gauge(id, v[2], nil, v[1])
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
    local state, deputy, compacted, common, text, station, category, place =
      unpack(redis.call('HMGET', k, 'state', 'deputy', 'compacted', 'common', 'text', 'station',
        'category', 'place'))
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
    -- the signature of the words goes with them (lib/cplace.lua), and the
    -- copy a common issue keeps of its first case's text
    if place and place ~= '' then
      local pk = cplace_key(station or '', category or '', place)
      for _, m in ipairs(redis.call('ZRANGE', pk, 0, -1)) do
        if cplace_parse(m) == id then redis.call('ZREM', pk, m) end
      end
    end
    if common and common ~= '' and text and redis.call('HGET', K.common .. common, 'text') == text then
      redis.call('HSET', K.common .. common, 'text', '[已删除]')
    end
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
    -- the statistics count the case under its corrected category
    local c = agg_load(k)
    c.category = previous
    agg_case(c, -1)
    c.category = label
    agg_case(c, 1)
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

-- report FROM TO [STATION] -> {rows: {deputy: {KEY: {metric: n}}, station: ...,
-- category: ...}, total: {metric: n}, buckets, rebuilding}: the aggregates
-- (lib/agg.lua) of the cases opened from day FROM to day TO (YYYYMMDD,
-- both included, China time), only STATION's if given.  Whole months are
-- read from their month bucket, the days at the edges from theirs: a
-- year is twelve HGETALL, whatever the number of cases.
local function day_number(s)
  local y, m, d = string.match(s or '', '^(%d%d%d%d)(%d%d)(%d%d)$')
  if not y then return nil end
  return agg_days(tonumber(y), tonumber(m), tonumber(d))
end

-- The aggregates of the cases opened from day number `lo` to `hi` (both
-- included), only `station`'s unless it is '': {deputy = {KEY = {metric =
-- n}}, station = ..., category = ...}, their total, and the buckets read.
local function agg_sum(lo, hi, station)
  -- Summed by field first (one table update a field a bucket), split
  -- into deputy, station and category once a distinct field at the end.
  local sums, buckets = {}, 0
  local function read(bucket)
    buckets = buckets + 1
    local h = redis.call('HGETALL', K.agg .. bucket)
    for i = 1, #h, 2 do
      local f = h[i]
      sums[f] = (sums[f] or 0) + tonumber(h[i + 1])
    end
  end
  local day = lo
  while day <= hi do
    local y, m, d = agg_civil(day)
    local next_month = agg_days(m == 12 and y + 1 or y, m == 12 and 1 or m + 1, 1)
    if d == 1 and next_month - 1 <= hi then
      read(string.format('m:%04d%02d', y, m))
      day = next_month
    else
      read(string.format('d:%04d%02d%02d', y, m, d))
      day = day + 1
    end
  end
  local deputy, st_rows, category, total = {}, {}, {}, {}
  local function add(rows, key, metric, n)
    local row = rows[key]
    if not row then row = {}; rows[key] = row end
    row[metric] = (row[metric] or 0) + n
  end
  -- "d|DEPUTY|STATION|metric" gives deputies, stations and the total;
  -- "c|STATION|CATEGORY|metric" the categories (lib/agg.lua).
  for f, n in pairs(sums) do
    if n ~= 0 then
      local kind, a, b, metric = string.match(f, '^(%a)|([^|]*)|([^|]*)|(.+)$')
      if kind == 'd' and (station == '' or b == station) then
        add(deputy, a, metric, n)
        add(st_rows, b, metric, n)
        total[metric] = (total[metric] or 0) + n
      elseif kind == 'c' and (station == '' or a == station) then
        add(category, b, metric, n)
      end
    end
  end
  return { deputy = deputy, station = st_rows, category = category }, total, buckets
end

-- report FROM TO STATION [KEY_MIN] -> the aggregates' rows and total of
-- the range, and its key problems (src/admin/annual_report.c).
local KEY_PROBLEMS_MAX = 10
if op == 'report' then
  local lo, hi, station = day_number(ARGV[2]), day_number(ARGV[3]), ARGV[4] or ''
  if not lo or not hi or lo > hi or hi - lo > 3660 then
    return redis.error_reply('ERR report: FROM and TO are days YYYYMMDD, at most ten years apart')
  end
  local rows, total, buckets = agg_sum(lo, hi, station)
  -- Key problems: the common issues made in the range (of `station`), with
  -- at least KEY_MIN residents (ARGV[5]), most residents first.
  local key_min = tonumber(ARGV[5]) or 3
  local ids = redis.call('ZRANGEBYSCORE', K.common_days, lo * 86400 - AGG_TZ_S,
    (hi + 1) * 86400 - AGG_TZ_S - 1, 'LIMIT', 0, SCAN_MAX)
  local commons = {}
  for _, rid in ipairs(ids) do
    local v = redis.call('HMGET', K.common .. rid, 'station', 'category', 'title', 'place', 'count',
      'resolved_at')
    local n = tonumber(v[5]) or 0
    if n >= key_min and (station == '' or v[1] == station) then
      commons[#commons + 1] = { id = rid, station = v[1] or '', category = v[2] or '',
        title = v[3] or '', place = v[4] or '', count = n, solved = v[6] ~= false }
    end
  end
  table.sort(commons, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.id < b.id
  end)
  local key = {}
  for i = 1, math.min(#commons, KEY_PROBLEMS_MAX) do key[i] = commons[i] end
  return cjson.encode({ rows = rows, total = total, buckets = buckets, key_min = key_min,
                        commons = #key > 0 and key or nil, commons_total = #commons,
                        rebuilding = redis.call('EXISTS', K.agg_rebuild) == 1 })
end

-- stats FROM TO [BY] -> one compact record per case created within [FROM, TO]:
-- [deputy, station, category, state, created, accepted_at, resolved_at, rating]
-- (aggregation, medians and overdue are done in C: src/admin/admin_stats.c),
-- and, when the aggregates are complete (K.agg_built) and the window is
-- whole China days (an open end: the first or last case's day), "counts":
-- BY's rows of the aggregates, which the daemon takes for the counts
-- (exact beyond the walk's bound; the medians and overdue stay the walk's).
local function whole_days(from, to)
  if redis.call('EXISTS', K.agg_built) == 0 then return nil end
  local first = redis.call('ZRANGE', CASES, 0, 0, 'WITHSCORES')
  local last = redis.call('ZRANGE', CASES, -1, -1, 'WITHSCORES')
  if #first == 0 then return nil end
  local lo, hi
  if from == '' then
    lo = math.floor((tonumber(first[2]) + AGG_TZ_S) / 86400)
  else
    local f = tonumber(from) + AGG_TZ_S
    if f % 86400 ~= 0 then return nil end
    lo = f / 86400
  end
  if to == '' then
    hi = math.floor((tonumber(last[2]) + AGG_TZ_S) / 86400)
  else
    local t = tonumber(to) + 1 + AGG_TZ_S
    if t % 86400 ~= 0 then return nil end
    hi = t / 86400 - 1
  end
  if lo > hi or hi - lo > 3660 then return nil end
  return lo, hi
end

-- stats FROM TO BY [ASPECT...] -> one compact record per case created
-- within [FROM, TO]: [deputy, station, category, state, created,
-- accepted_at, resolved_at, rating, revisit_asked, revisits, relapses,
-- score of each ASPECT (0 when not rated on it)] — the revisit and aspect
-- fields as the step records them (step/68_revisit.lua); and, for a window
-- of whole China days, the aggregates' counts by BY.
-- (aggregation, medians and overdue are done in C: src/admin/admin_stats.c)
local STAT_FIELDS = { 'deputy', 'station', 'category', 'state', 'created', 'accepted_at',
                      'resolved_at', 'rating', 'revisit_asked', 'revisits', 'relapses' }
if op == 'stats' then
  local lo, hi = range(ARGV[2], ARGV[3])
  local fields = { unpack(STAT_FIELDS) }
  for i = 5, #ARGV do fields[#fields + 1] = 'aspect:' .. ARGV[i] end
  local out = {}
  local seen, truncated = walk(lo, hi, function(id)
    local v = redis.call('HMGET', case_key(id), unpack(fields))
    if v[4] then
      local rec = { v[1] or '', v[2] or '', v[3] or '', v[4] }
      for i = 5, #fields do rec[i] = tonumber(v[i]) or 0 end
      out[#out + 1] = rec
    end
    return false
  end)
  local counts
  local dlo, dhi = whole_days(ARGV[2] or '', ARGV[3] or '')
  if dlo and (ARGV[4] == 'deputy' or ARGV[4] == 'station' or ARGV[4] == 'category') then
    counts = agg_sum(dlo, dhi, '')[ARGV[4]]
  end
  return cjson.encode({ records = out, scanned = seen, truncated = truncated, counts = counts })
end

-- agg_rebuild NOW BATCH -> {done, walked, cursor}: one step of recounting
-- the aggregates from the cases (lib/agg.lua), at most about BATCH cases
-- a call so Redis is never held long; the caller repeats until done.
-- The new counts grow in "agg:new:..." while the live ones serve; cases
-- are walked by creation time and the cursor (the last second counted)
-- lets the step apply a change of a counted case to the new counts too.
-- The last call swaps the new counts in.  A second rebuild recounts to
-- the same numbers; one interrupted resumes where it stopped.
-- Calls fn(bucket) for every day and month bucket that can hold counts:
-- from the oldest case's day to a day past the newest case and now (the
-- buckets are not listed anywhere: one DEL or RENAME a day, a few
-- thousand for years of data, is quicker than keeping an index on the
-- step's path).
local function each_bucket(fn)
  local first = redis.call('ZRANGE', CASES, 0, 0, 'WITHSCORES')
  local last = redis.call('ZRANGE', CASES, -1, -1, 'WITHSCORES')
  if #first == 0 then return end
  local hi = math.max(tonumber(last[2]), tonumber(ARGV[2]) or 0)
  local d0 = math.floor((tonumber(first[2]) + AGG_TZ_S) / 86400)
  local d1 = math.floor((hi + AGG_TZ_S) / 86400) + 1
  local months = {}
  for d = d0, d1 do
    local day, month = agg_buckets(d * 86400 - AGG_TZ_S)
    fn(day)
    if not months[month] then months[month] = true; fn(month) end
  end
end

if op == 'agg_rebuild' then
  local now, batch = tonumber(ARGV[2]), tonumber(ARGV[3]) or BATCH
  local st = redis.call('HMGET', K.agg_rebuild, 'cursor', 'walked')
  local cursor, walked = tonumber(st[1]), tonumber(st[2]) or 0
  if not cursor then
    each_bucket(function(b) redis.call('DEL', K.agg_new .. b) end)
    cursor, walked = -1, 0
    redis.call('HSET', K.agg_rebuild, 'cursor', cursor, 'walked', 0, 'started', now)
  end
  local got = redis.call('ZRANGEBYSCORE', CASES, '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, batch)
  if #got == 0 then
    each_bucket(function(b)
      if redis.call('EXISTS', K.agg_new .. b) == 1 then
        redis.call('RENAME', K.agg_new .. b, K.agg .. b)
      else
        redis.call('DEL', K.agg .. b)
      end
    end)
    redis.call('DEL', K.agg_rebuild)
    redis.call('SET', K.agg_built, now)
    return cjson.encode({ done = true, walked = walked, cursor = cursor })
  end
  -- Whole seconds only: the cursor says "every case opened up to here".
  local last = tonumber(got[#got])
  local ids = {}
  for i = 1, #got, 2 do
    if tonumber(got[i + 1]) < last then ids[#ids + 1] = got[i] end
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', CASES, last, last)) do ids[#ids + 1] = id end
  local sums = {}
  for _, id in ipairs(ids) do
    local c = agg_load(case_key(id))
    local created = tonumber(c.created)
    if c.state and created then
      local day, month = agg_buckets(created)
      for _, m in ipairs(agg_facts(c)) do
        for _, f in ipairs({ agg_fields(m, c) }) do
          for _, b in ipairs({ day, month }) do
            sums[b] = sums[b] or {}
            sums[b][f] = (sums[b][f] or 0) + 1
          end
        end
      end
    end
  end
  for b, fields in pairs(sums) do
    for f, n in pairs(fields) do agg_add(K.agg_new, b, f, n) end
  end
  walked = walked + #ids
  redis.call('HSET', K.agg_rebuild, 'cursor', last, 'walked', walked)
  return cjson.encode({ done = false, walked = walked, cursor = last })
end

return redis.error_reply('ERR unknown admin operation ' .. tostring(op))
end)
