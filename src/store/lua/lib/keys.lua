-- Key names (src/core/schema.def "key"), with the prefix KEYS[1] = "{ns}:"
-- in front: K.case .. id is the case hash, K.timers the timer zset.
local K = {}
for name, suffix in pairs(SCHEMA.keys) do K[name] = KEYS[1] .. suffix end
