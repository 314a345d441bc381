-- A case's history (K.hist .. id, one JSON {ts, actor, event, text} per
-- step, RPUSHed as the case moves).  Once a case is closed and past its
-- windows, step.lua's tick compacts it (hist_compact): the list becomes
-- one string, K.histz .. id, a JSON array of [ts, actor, event, text],
-- and the case hash gets `compacted` = 1.  A list key and its
-- small listpack nodes cost several times the bytes of their entries;
-- the string costs one key and its text.  A step written after that (an
-- administrator's correction) starts a new list, read after the string.
-- Needs K (lib/keys.lua).

-- The entries first..last (1-based, inclusive; negative counts from the
-- end, as LRANGE), decoded; `compacted` is the case hash's field.
local function hist_read(id, compacted, first, last)
  local function decoded(list, into)
    for _, j in ipairs(list) do
      local ok, e = pcall(cjson.decode, j)
      if ok then into[#into + 1] = e end
    end
    return into
  end
  if not compacted or compacted == '' then
    return decoded(redis.call('LRANGE', K.hist .. id, first > 0 and first - 1 or first,
                              last > 0 and last - 1 or last), {})
  end
  local all = {}
  local ok, z = pcall(cjson.decode, redis.call('GET', K.histz .. id) or '[]')
  if ok then
    for _, e in ipairs(z) do all[#all + 1] = { ts = e[1], actor = e[2], event = e[3], text = e[4] } end
  end
  decoded(redis.call('LRANGE', K.hist .. id, 0, -1), all)
  local n = #all
  if first < 0 then first = math.max(1, n + first + 1) end
  if last < 0 then last = n + last + 1 end
  local out = {}
  for i = first, math.min(last, n) do out[#out + 1] = all[i] end
  return out
end

-- Replaces the history with `entries` (decoded, as hist_read gives
-- them), in the compacted form when the case is.
local function hist_write(id, compacted, entries)
  if compacted and compacted ~= '' then
    local z = {}
    for i, e in ipairs(entries) do z[i] = { e.ts, e.actor, e.event, e.text or '' } end
    redis.call('DEL', K.hist .. id)
    if #z > 0 then redis.call('SET', K.histz .. id, cjson.encode(z)) end
    return
  end
  redis.call('DEL', K.hist .. id)
  local l = {}
  for i, e in ipairs(entries) do l[i] = cjson.encode(e) end
  if #l > 0 then redis.call('RPUSH', K.hist .. id, unpack(l)) end
end

-- Folds the history list into the compacted string (see above).
local function hist_compact(id)
  hist_write(id, '1', hist_read(id, nil, 1, -1))
  redis.call('HSET', K.case .. id, 'compacted', 1)
end
