{{- define "bij.name" -}}bij-operator{{- end -}}
{{- define "bij.labels" -}}
app.kubernetes.io/name: {{ include "bij.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "bij.selector" -}}
app.kubernetes.io/name: {{ include "bij.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
