-- Argo CD action "suspend" for a BatchInferenceJob: sets spec.suspend; returns the modified object.
obj.spec.suspend = true
return obj
