-- The one template renderer of the daemon's texts (docs/lua.md): every
-- "{name}" of template text `t` becomes tostring(vars[name]), "" when
-- vars has no such name.  Used by step.lua for every reply and by
-- wechat.lua for the welcome texts.
local function render_text(t, vars)
  return (string.gsub(t or '', '{([%w_%.]+)}', function(name)
    local v = vars[name]
    if v == nil then return '' end
    return tostring(v)
  end))
end
