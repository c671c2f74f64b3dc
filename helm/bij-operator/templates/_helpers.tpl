{{/* The chart's name: bij-operator, or nameOverride. */}}
{{- define "bij-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, the name of its namespaced objects: <release>-bij-operator, or the
release name alone when it already holds the chart's name, or fullnameOverride. 63 characters at
most (a label value). */}}
{{- define "bij-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects (ClusterRole, ClusterRoleBinding) are shared by all namespaces: their
name holds the release namespace too, so the same release name in two namespaces does not collide. */}}
{{- define "bij-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "bij-operator.fullname" .) -}}
{{- end -}}

{{- define "bij-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bij-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bij-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bij-operator.labels" -}}
helm.sh/chart: {{ include "bij-operator.chart" . }}
{{ include "bij-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: batch-inference-operator
{{- end -}}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "bij-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bij-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: with serviceAccount.create=false, name the existing ServiceAccount the operator runs as" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "bij-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace -}}
{{- end -}}

{{- define "bij-operator.leaseName" -}}
{{- default (include "bij-operator.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* A rules file of the chart (rbac/*.yaml) as a YAML list; fails naming the file if it is not one. */}}
{{- define "bij-operator.rulesFile" -}}
{{- $rules := .root.Files.Get .file | fromYamlArray -}}
{{- if or (not $rules) (not (kindIs "map" (first $rules))) -}}
{{- fail (printf "%s: expected a YAML list of RBAC rules" .file) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* Checks of value combinations the schema cannot express. */}}
{{- define "bij-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "replicas: %d replicas need leaderElection.enabled=true (without a Lease every replica would act on every job); set replicas=1 or enable leader election" (int .Values.replicas)) -}}
{{- end -}}
{{- end -}}
