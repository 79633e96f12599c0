-- HTTP/1.1 pipelining for wrk: each write on a connection carries DEPTH requests
-- (default 16) for the URL's path; wrk counts each response as one request.
--
--   wrk -t1 -c64 -d5s -s bench/pipeline.lua http://127.0.0.1:8000/plaintext -- 16

local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local one = wrk.format("GET", wrk.path)
  batch = string.rep(one, depth)
end

function request()
  return batch
end
