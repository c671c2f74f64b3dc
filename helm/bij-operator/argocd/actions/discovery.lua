-- Argo CD resource actions for batchinference.dev/BatchInferenceJob: suspend and resume (Lua 5.1,
-- Argo CD's conventions: `obj` in, the table of available actions out). Suspend stops the shard Jobs
-- and keeps the finished shards; resume carries on. A finished job (Succeeded or Failed) offers
-- neither: editing spec.suspend there changes nothing.
local actions = {}
actions["suspend"] = {["disabled"] = true, ["iconClass"] = "fa fa-fw fa-pause"}
actions["resume"] = {["disabled"] = true, ["iconClass"] = "fa fa-fw fa-play"}

local suspended = obj.spec ~= nil and obj.spec.suspend == true
local phase = obj.status and obj.status.phase
local finished = phase == "Succeeded" or phase == "Failed"

if suspended then
  actions["resume"]["disabled"] = false
elseif not finished then
  actions["suspend"]["disabled"] = false
end
return actions
