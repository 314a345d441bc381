local function case_key(id) return K.case .. id end
local function load_case(id)
  if not id or id == '' then return nil end
  local h = redis.call('HGETALL', case_key(id))
  if #h == 0 then return nil end
  local c = {}
  for i = 1, #h, 2 do c[h[i]] = h[i + 1] end
  return c
end
local function history(id, actor, event, text)
  redis.call('RPUSH', K.hist .. id,
    cjson.encode({ ts = nows, actor = actor, event = event, text = text or '' }))
end
local function set_state(c, to, actor, event, text)
  case_moved(c.id, c.created, c.state, to, c)
  c.state = to
  redis.call('HSET', case_key(c.id), 'state', to, 'updated', nows)
  history(c.id, actor, event, text)
end
-- Where `ev` leads from `state` when this message may cause it (may:
-- env.tr as a set, 00_env.lua), else nil.
local function allowed(ev, state)
  if not may[ev] then return nil end
  return SCHEMA.events[ev].from[state]
end
-- Where `ev` leads from `state` by the schema itself: for the steps the
-- message's events do not cover (a rating window that ends).
local function next_state(ev, state) return SCHEMA.events[ev].from[state] end
local function topic_of(c)
  if c.title and c.title ~= '' then return c.title end
  return category_name(c.category)
end

