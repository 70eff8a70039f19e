{{/* Names and labels shared by every template. */}}

{{- define "trellis.fullname" -}}
{{- if contains "trellis" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-trellis" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trellis.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "trellis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "trellis.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "trellis.webhookService" -}}
{{- printf "%s-webhook" (include "trellis.fullname" .) -}}
{{- end -}}

{{- define "trellis.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "trellis.fullname" .) -}}
{{- end -}}

{{- define "trellis.webhookConfiguration" -}}
{{- printf "%s-webhook" (include "trellis.fullname" .) -}}
{{- end -}}

{{/* Pod-level fields every Trellis pod shares (Pod Security "restricted"). */}}
{{- define "trellis.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
