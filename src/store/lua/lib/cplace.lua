-- The open cases of one place that a new concern may join as a common
-- issue (step/65_common.lua), and that an erasure forgets (admin.lua):
-- one sorted set per station, category and place, scored by the case's
-- creation time, each member the case id and the signature of its words
-- (intents/similar.h).  The signature lives here, not in the case hash:
-- a field longer than 64 bytes would turn every case hash from a compact
-- listpack into a hash table, doubling what a closed case keeps.
local function cplace_key(station_id, label, place)
  return K.cplace .. station_id .. '|' .. label .. '|' .. place
end
local function cplace_member(id, sig) return id .. ':' .. sig end
-- The case id and signature of a member.
local function cplace_parse(member)
  local id, sig = string.match(member, '^([^:]+):(.*)$')
  return id or member, sig or ''
end
