{{/* Names, labels and shared pieces of the netmatrix chart. */}}

{{- define "netmatrix.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
"<release>-<chart>", or just the release when it already contains the chart name. Cut to 40
characters so that "<fullname>-host-agent" plus the DaemonSet's pod suffix stay within 63.
*/}}
{{- define "netmatrix.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "netmatrix.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods: never change them, Deployment and DaemonSet selectors are immutable. */}}
{{- define "netmatrix.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netmatrix.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels. Call with (dict "root" $ "component" "aggregator"). */}}
{{- define "netmatrix.labels" -}}
helm.sh/chart: {{ include "netmatrix.chart" .root }}
{{ include "netmatrix.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: netmatrix
{{- end -}}

{{- define "netmatrix.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "netmatrix.aggregator.fullname" -}}
{{- printf "%s-aggregator" (include "netmatrix.fullname" .) -}}
{{- end -}}

{{- define "netmatrix.aggregator.serviceAccountName" -}}
{{- if .Values.aggregator.serviceAccount.create -}}
{{- default (include "netmatrix.aggregator.fullname" .) .Values.aggregator.serviceAccount.name -}}
{{- else -}}
{{- required "aggregator.serviceAccount.name is required when aggregator.serviceAccount.create is false" .Values.aggregator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "netmatrix.agent.serviceAccountName" -}}
{{- if .Values.agents.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "netmatrix.fullname" .)) .Values.agents.serviceAccount.name -}}
{{- else -}}
{{- required "agents.serviceAccount.name is required when agents.serviceAccount.create is false" .Values.agents.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Cluster-scoped objects and objects in kube-system are shared by every release in the cluster:
their names carry the release namespace so two releases of the same name do not collide.
*/}}
{{- define "netmatrix.aggregator.clusterName" -}}
{{- printf "%s-%s-aggregator" .Release.Namespace (include "netmatrix.fullname" .) -}}
{{- end -}}

{{- define "netmatrix.tokenSecretName" -}}
{{- default (printf "%s-token" (include "netmatrix.fullname" .)) .Values.token.existingSecret -}}
{{- end -}}

{{- define "netmatrix.tokenSecretKey" -}}
{{- if .Values.token.existingSecret -}}
{{- .Values.token.existingSecretKey -}}
{{- else -}}
token
{{- end -}}
{{- end -}}

{{- define "netmatrix.tokenEnv" -}}
- name: NETMATRIX_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "netmatrix.tokenSecretName" . }}
      key: {{ include "netmatrix.tokenSecretKey" . }}
{{- end -}}

{{/* ws://<fullname>-aggregator.<namespace>.svc:<port>/ws/agent (wss:// with TLS) */}}
{{- define "netmatrix.aggregatorUrl" -}}
{{- printf "%s://%s.%s.svc:%d/ws/agent" (ternary "wss" "ws" .Values.tls.enabled) (include "netmatrix.aggregator.fullname" .) .Release.Namespace (int .Values.aggregator.service.port) -}}
{{- end -}}

{{/* The Secret with tls.crt, tls.key and ca.crt: the user's, or the one the chart generates. */}}
{{- define "netmatrix.tlsSecretName" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "netmatrix.fullname" .)) -}}
{{- end -}}

{{/*
Checks across values that the JSON schema cannot express: the agents enforce their own limits
and refuse any test outside them, so a sweep beyond them would only ever record spec-refused
failures. An unlimited TCP test (bitrate 0) counts as above any bitrate cap. The schema's
pattern checks the form of quietHours; an empty window ("02:00-02:00"), which the aggregator
refuses at start, is refused here.
*/}}
{{- define "netmatrix.validate" -}}
{{- $s := .Values.aggregator.settings -}}
{{- $a := .Values.agents -}}
{{- $max := int64 $a.maxBitrateBitsPerSecond -}}
{{- if gt $max 0 -}}
{{- if or (eq (int64 $s.tcpBitrateBitsPerSecond) 0) (gt (int64 $s.tcpBitrateBitsPerSecond) $max) (gt (int64 $s.udpBitrateBitsPerSecond) $max) -}}
{{- fail (printf "agents.maxBitrateBitsPerSecond (%d) refuses the sweep's tests: set aggregator.settings.tcpBitrateBitsPerSecond (now %d, 0 = unlimited) and udpBitrateBitsPerSecond (now %d) to between 1 and %d" $max (int64 $s.tcpBitrateBitsPerSecond) (int64 $s.udpBitrateBitsPerSecond) $max) -}}
{{- end -}}
{{- end -}}
{{- if gt (int64 $s.testDurationSeconds) (int64 $a.maxTestDurationSeconds) -}}
{{- fail (printf "aggregator.settings.testDurationSeconds (%d) exceeds agents.maxTestDurationSeconds (%d): the agents would refuse every test" (int64 $s.testDurationSeconds) (int64 $a.maxTestDurationSeconds)) -}}
{{- end -}}
{{- if gt (int64 $s.streams) (int64 $a.maxStreams) -}}
{{- fail (printf "aggregator.settings.streams (%d) exceeds agents.maxStreams (%d): the agents would refuse every test" (int64 $s.streams) (int64 $a.maxStreams)) -}}
{{- end -}}
{{- with $s.coverage.quietHours -}}
{{- $ends := splitList "-" . -}}
{{- if eq (first $ends) (last $ends) -}}
{{- fail (printf "aggregator.settings.coverage.quietHours (%q) starts where it ends: that would mean either no quiet time or no background tests at all" .) -}}
{{- end -}}
{{- end -}}
{{- if not (or $a.pod.enabled $a.host.enabled) -}}
{{- fail "agents.pod.enabled and agents.host.enabled are both false: nothing would be measured" -}}
{{- end -}}
{{- end -}}
