local function res_key(channel, addr) return K.res .. channel .. ':' .. addr end
local function rcases_key(channel, addr) return K.rcases .. channel .. ':' .. addr end
-- RK and RCASES, the sender's (00_env.lua), are these of msg.

-- The sender's resident fields a message may read, fetched at once.  Only
-- fields this script never writes before reading them are cached.
local RK_FIELDS = { 'session', 'relay_case', 'relay_at', 'bound', 'rating_case', 'revisit_case', 'revisit_at' }
local function rk_load()
  local vals = redis.call('HMGET', RK, unpack(RK_FIELDS))
  rk_cache = {}
  for i, f in ipairs(RK_FIELDS) do rk_cache[f] = vals[i] or nil end
end
local function rk_get(rk, f)
  if rk == RK and rk_cache then return rk_cache[f] end
  return hget(rk, f)
end

local function owns(c) return c and c.channel == msg.channel and c.addr == msg.addr end
