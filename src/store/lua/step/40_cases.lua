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
  case_moved(c.id, c.created, c.state, to)
  c.state = to
  redis.call('HSET', case_key(c.id), 'state', to, 'updated', nows)
  history(c.id, actor, event, text)
end
local function allowed(ev, state)
  local tr = env.tr and env.tr[ev]
  if not tr then return nil end
  for _, s in ipairs(tr.from) do
    -- No "to": the event keeps the state (escalation).
    if s == state then return tr.to or state end
  end
  return nil
end
-- Where `ev` leads from `state` by the schema itself: for the steps the
-- daemon's transitions do not cover (a rating window that ends).
local function next_state(ev, state) return allowed(ev, state) or SCHEMA.events[ev].from[state] end
local function topic_of(c)
  if c.title and c.title ~= '' then return c.title end
  return category_name(c.category)
end

