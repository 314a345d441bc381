-- Key names (src/core/schema.def "key"), with the prefix "{ns}:" in
-- front: K.case .. id is the case hash, K.timers the timer zset.  The
-- prefix is the call's KEYS[1]: every function's entry calls
-- keys_bind(keys[1]) first; the names are made again only when the prefix
-- differs from the last call's (one namespace per daemon, as a rule).
local K = {}
local K_prefix = nil
local function keys_bind(prefix)
  if prefix == K_prefix then return end
  for name, suffix in pairs(SCHEMA.keys) do K[name] = prefix .. suffix end
  K_prefix = prefix
end
