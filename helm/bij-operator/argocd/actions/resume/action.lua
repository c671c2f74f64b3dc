-- Argo CD action "resume" for a BatchInferenceJob: clears spec.suspend; returns the modified object.
obj.spec.suspend = false
return obj
