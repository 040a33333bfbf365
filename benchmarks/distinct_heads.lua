-- wrk script: every request carries a different query string, so each
-- request head differs from the one before it on the connection.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. "?n=" .. counter)
end
