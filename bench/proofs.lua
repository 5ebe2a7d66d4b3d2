-- wrk script: GET inclusion proofs for the entry ids listed in $IDS (one hex id per line).
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  ids = {}
  for line in io.lines(os.getenv("IDS") or "/tmp/ids.txt") do ids[#ids + 1] = line end
  i = id * 7919
end
function request()
  i = i + 1
  return wrk.format("GET", "/entries/" .. ids[(i % #ids) + 1] .. "/inclusion-proof")
end
