-- Argo CD health check for batchinference.dev/BatchInferenceJob (Lua 5.1, Argo CD's conventions:
-- the object comes in as the global `obj`; the script returns `hs` with `status` and `message`).
-- Install it as resource.customizations.health.batchinference.dev_BatchInferenceJob in argocd-cm
-- (see the README, "GitOps and cluster integrations"). Uses no library: Argo CD's sandbox has few.
local hs = {}

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the job"
  return hs
end

-- A spec edit the operator has not acted on yet: whatever the phase says is about the old spec.
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local function condition(type)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == type and c.status == "True" then return c end
  end
  return nil
end

local message = status.message or ""
local phase = status.phase
if phase == "Pending" or phase == "Waiting" or phase == "Running" or phase == "Merging" then
  hs.status = "Progressing"
  local prefix = phase
  if status.progress ~= nil then prefix = prefix .. " (" .. status.progress .. ")" end
  hs.message = prefix .. ": " .. message
elseif phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message
elseif phase == "Failed" then
  hs.status = "Degraded"
  local failed = condition("Failed")
  if failed ~= nil and failed.message ~= nil and failed.message ~= "" then
    hs.message = (failed.reason or "Failed") .. ": " .. failed.message
  else
    hs.message = message
  end
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = message
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
