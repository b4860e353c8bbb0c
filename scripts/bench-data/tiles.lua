-- wrk script of `scripts/bench tiles`: walks a fixed list of tiles, every thread from its own
-- offset, with `Accept-Encoding: gzip` on every request.
--   wrk -tTHREADS ... -s tiles.lua URL -- LIST PATTERN THREADS [TOKEN]
-- LIST has one tile a line, "tileset z x y". PATTERN is the path with {t} {z} {x} {y}, e.g.
-- /tiles/{t}/{z}/{x}/{y}.pbf. THREADS is wrk's -t (thread i starts at i/THREADS of the list).
-- TOKEN, when given, is sent as a bearer token on requests of the
-- `buildings` tileset (gridmap's private tileset).
-- done() (result.lua, run from the repository root) prints the RESULT line.

local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

local paths = {}
local index = 1

function init(args)
    local list, pattern, threads, token = args[1], args[2], tonumber(args[3]), args[4]
    for line in io.lines(list) do
        local t, z, x, y = line:match("^(%S+) (%d+) (%d+) (%d+)$")
        if t then
            local path = pattern:gsub("{t}", t):gsub("{z}", z):gsub("{x}", x):gsub("{y}", y)
            local headers = { ["Accept-Encoding"] = "gzip" }
            if token and token ~= "" and t == "buildings" then
                headers["Authorization"] = "Bearer " .. token
            end
            table.insert(paths, wrk.format("GET", path, headers))
        end
    end
    if #paths == 0 then
        error("no tiles in " .. list)
    end
    index = (math.floor(#paths * id / threads) % #paths) + 1
end

function request()
    local r = paths[index]
    index = index % #paths + 1
    return r
end

dofile("scripts/bench-data/result.lua")
