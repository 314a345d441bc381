-- Reads of the cfg hash are cached for the call (cfg_cache, 00_env.lua);
-- fields that the call will likely need are fetched together with one HMGET.
local function cfg_prefetch(fields)
  local want = {}
  for _, f in ipairs(fields) do
    if cfg_cache[f] == nil then want[#want + 1] = f end
  end
  if #want == 0 then return end
  local vals = redis.call('HMGET', CFG, unpack(want))
  for i, f in ipairs(want) do cfg_cache[f] = vals[i] or false end
end
local function cfg(field)
  local v = cfg_cache[field]
  if v == nil then
    v = hget(CFG, field) or false
    cfg_cache[field] = v
  end
  return v or nil
end

-- Without the directory no reply could be worded: the daemon republishes
-- it and tries again (Redis was flushed or restarted without its data).
-- "committee" is always published, so its absence means no directory; the
-- same HMGET brings what opening a case (the common path) words.
-- The settings are read with it too: one field, "name=value" lines
-- (src/core/directory.c), cheaper to read and split than a field each.
-- So are the words the common messages reply with: a hint only, a
-- template not named here is read when it is rendered.
local WORDS_FOR = {
  ['cmd.accept'] = { 'accepted', 'deputy_accepted' },
  ['cmd.progress'] = { 'progress', 'deputy_progress' },
  ['cmd.resolve'] = { 'resolved', 'deputy_resolved' },
  ['chat.status'] = { 'status', 'status_item' },
  ['chat.rating'] = { 'rated' },
}
-- The settings as parsed from the raw "opt" field the last time it
-- differed: kept in the library between calls, and used by a call only
-- when the field it read is the very same string (parsing it again cost
-- ~5 µs a call).  Exact whatever happens to the directory (a new digest,
-- an edit in place): only the parse of equal text is saved, never a
-- read.  `opt` and `ASPECTS` are therefore shared: read only.
local OPT_PARSED = { raw = false, opt = {}, aspects = {} }
local function parse_opt(raw)
  if raw ~= OPT_PARSED.raw then
    local o, a = {}, {}
    for k, v in string.gmatch(raw, '([%w_]+)=([^\n]*)') do o[k] = v end
    -- "态度,速度,结果" in the settings
    for x in string.gmatch(o.aspects or '', '[^,]+') do a[#a + 1] = x end
    OPT_PARSED.raw, OPT_PARSED.opt, OPT_PARSED.aspects = raw, o, a
  end
  return OPT_PARSED.opt, OPT_PARSED.aspects
end

-- Returns false when the directory is missing.  The configured aspects
-- of a rating (68_revisit.lua) are read from the settings here.
local function first_read()
  local first = { 'committee', 'opt' }
  if not env.mode then
    for _, w in ipairs(WORDS_FOR[intent.label] or {}) do first[#first + 1] = 't:' .. w end
    if env.role == 'deputy' then
      first[#first + 1] = 'd:' .. (env.deputy or '')
    elseif intent.kind ~= 'chat' then
      first[#first + 1] = 't:ack'
      first[#first + 1] = 't:deputy_new'
      if intent.label then first[#first + 1] = 'c:' .. intent.label end
      -- the candidates of the routing plan's first choice (55_routing.lua)
      for _, step in ipairs(env.route or {}) do
        if step.rule ~= 'binding' then
          for _, d in ipairs(step.duty or {}) do first[#first + 1] = 'd:' .. d end
          for _, d in ipairs(step.d or {}) do first[#first + 1] = 'd:' .. d end
          break
        end
      end
    end
  end
  cfg_prefetch(first)
  if not cfg_cache.committee or not cfg_cache.opt then return false end
  opt, ASPECTS = parse_opt(cfg_cache.opt)
  return true
end

-- Counts uses of `key` within `ttl` seconds (INCR, expiring from the first
-- use).  A first use, the common case, costs one command.
local function count_use(key, ttl)
  if redis.call('SET', key, 1, 'EX', ttl, 'NX') then return 1 end
  return redis.call('INCR', key)
end

local function render(key, vars) return render_text(cfg('t:' .. key), vars) end

-- A deputy's record ("d:<id>", JSON), decoded.  As for the settings, the
-- decoded record is kept between calls with the text it came from and
-- used again only for the very same text (~1 µs a deputy a call): a
-- person is read only, never changed.
local PERSON_DECODED = {}   -- id -> { text, record }
local function person(id)
  if not id or id == '' then return nil end
  if people[id] == nil then
    local j = cfg('d:' .. id)
    local was = PERSON_DECODED[id]
    if not j then
      people[id] = false
    elseif was and was[1] == j then
      people[id] = was[2]
    else
      local p = cjson.decode(j)
      p.id = id
      PERSON_DECODED[id] = { j, p }
      people[id] = p
    end
  end
  return people[id] or nil
end

-- A word for an internal name (action.*, state.*, level.*, rule.*): never
-- the internal name itself, which is English and meant for machines.
local function word(key) return cfg('t:' .. key) or '' end
local function category_name(label) return cfg('c:' .. label) or cfg('c:other') or '' end
local function state_name(s) return word('state.' .. s) end

