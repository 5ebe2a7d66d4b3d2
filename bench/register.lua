-- wrk script: each of 2 threads posts its own half of the pre-signed statements in
-- $STATEMENTS (default /tmp/stmts.bin, made by bench/gen_statements.py) and counts 201s.
-- Usage: wrk -t2 -c512 -d8s --timeout 20s -s bench/register.lua http://127.0.0.1:7380/entries
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local f = io.open(os.getenv("STATEMENTS") or "/tmp/stmts.bin", "rb")
  local data = f:read("*all")
  f:close()
  stmts = {}
  local pos, k = 1, 0
  while pos <= #data do
    local a, b, c, d = data:byte(pos, pos + 3)
    local len = ((a * 256 + b) * 256 + c) * 256 + d
    if k % 2 == id then
      stmts[#stmts + 1] = data:sub(pos + 4, pos + 3 + len)
    end
    k = k + 1
    pos = pos + 4 + len
  end
  i = 0
  created = 0
  others = 0
end
function request()
  i = i + 1
  local body = stmts[((i - 1) % #stmts) + 1]
  return wrk.format("POST", "/entries", {["Content-Type"] = "application/cose"}, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else others = others + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("others")
  end
  io.write(string.format("201 Created: %d, other: %d, over %.1f s => %.0f registrations/s\n", c, o, summary.duration / 1e6, c / (summary.duration / 1e6)))
end
