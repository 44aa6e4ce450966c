{{/* Chart name, bounded to the 63 characters a label value allows. */}}
{{- define "dubbing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource name prefix: fullnameOverride, or <release>-<name>, or just the release name when it
already contains the chart name (so `helm install dubbing .` gives "dubbing-operator", not
"dubbing-dubbing-operator").
*/}}
{{- define "dubbing.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dubbing.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "dubbing.labels" -}}
helm.sh/chart: {{ include "dubbing.chart" . }}
app.kubernetes.io/name: {{ include "dubbing.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dubbing
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "operator"). */}}
{{- define "dubbing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dubbing.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component. */}}
{{- define "dubbing.componentLabels" -}}
{{ include "dubbing.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Full image reference: call with (dict "ctx" $ "image" .Values.operator.image). */}}
{{- define "dubbing.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- $repo := .image.repository -}}
{{- if and .ctx.Values.image.registry (not (contains "/" $repo)) -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .ctx.Values.image.registry) $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end }}

{{- define "dubbing.pullPolicy" -}}
{{- .image.pullPolicy | default .ctx.Values.image.pullPolicy -}}
{{- end }}

{{- define "dubbing.operator.fullname" -}}
{{- printf "%s-operator" (include "dubbing.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dubbing.webui.fullname" -}}
{{- printf "%s-webui" (include "dubbing.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dubbing.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "dubbing.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dubbing.webui.serviceAccountName" -}}
{{- if .Values.webui.serviceAccount.create }}
{{- default (include "dubbing.webui.fullname" .) .Values.webui.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.webui.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The one namespace the operator watches; empty when it watches every namespace. */}}
{{- define "dubbing.operator.watchNamespace" -}}
{{- if not .Values.operator.watchAllNamespaces }}
{{- .Values.operator.watchNamespace | default (include "dubbing.jobsNamespace" .) }}
{{- end }}
{{- end }}

{{/* Namespace the web UI submits jobs to. */}}
{{- define "dubbing.jobsNamespace" -}}
{{- .Values.webui.jobsNamespace | default .Release.Namespace }}
{{- end }}

{{/* Object store: Secret name and endpoint. */}}
{{- define "dubbing.minio.secretName" -}}
{{- .Values.minio.auth.existingSecret | default (printf "%s-s3" (include "dubbing.fullname" .)) }}
{{- end }}

{{- define "dubbing.minio.endpoint" -}}
{{- if eq .Values.minio.mode "external" }}
{{- required "minio.external.endpoint is required when minio.mode is external" .Values.minio.external.endpoint }}
{{- else }}
{{- printf "http://%s-minio.%s.svc:9000" (include "dubbing.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "dubbing.redis.url" -}}
{{- if eq .Values.redis.mode "external" }}
{{- required "redis.external.url is required when redis.mode is external" .Values.redis.external.url }}
{{- else }}
{{- printf "redis://:$(DUBBING_REDIS_PASSWORD)@%s-redis.%s.svc:6379/0" (include "dubbing.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* ntfy token Secret name; empty when there is no token at all. */}}
{{- define "dubbing.ntfy.secretName" -}}
{{- if .Values.ntfy.existingSecret }}
{{- .Values.ntfy.existingSecret }}
{{- else if .Values.ntfy.token }}
{{- printf "%s-ntfy" (include "dubbing.fullname" .) }}
{{- end }}
{{- end }}

{{- define "dubbing.publicUrl" -}}
{{- if .Values.webui.publicUrl }}
{{- .Values.webui.publicUrl }}
{{- else if .Values.webui.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.webui.ingress.tls.enabled) .Values.webui.ingress.host }}
{{- else }}
{{- printf "http://%s.%s.svc" (include "dubbing.webui.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "dubbing.modelCache.claimName" -}}
{{- .Values.modelCache.existingClaim | default (printf "%s-models" (include "dubbing.fullname" .)) }}
{{- end }}

{{/* host:port and TLS flag of the object store, for clients that take them apart. */}}
{{- define "dubbing.minio.hostPort" -}}
{{- include "dubbing.minio.endpoint" . | trimPrefix "https://" | trimPrefix "http://" | trimSuffix "/" }}
{{- end }}

{{- define "dubbing.minio.secure" -}}
{{- ternary "true" "false" (hasPrefix "https://" (include "dubbing.minio.endpoint" .)) }}
{{- end }}

{{/*
Settings both the operator and the web UI read, as container env entries. The names are the
DUBBING_* variables of docs/settings.md.
*/}}
{{- define "dubbing.commonEnv" -}}
{{- if eq .Values.redis.mode "bundled" }}
# expanded into DUBBING_REDIS_URL below by the kubelet (it must come first)
- name: DUBBING_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-redis" (include "dubbing.fullname" .) }}
      key: password
{{- end }}
- name: DUBBING_REDIS_URL
  value: {{ include "dubbing.redis.url" . | quote }}
- name: DUBBING_NTFY_URL
  value: {{ .Values.ntfy.url | quote }}
{{- with include "dubbing.ntfy.secretName" . }}
- name: DUBBING_NTFY_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.ntfy.tokenKey }}
{{- end }}
{{- end }}

{{/* Hash of the configuration a Pod reads at start, so a changed value rolls the Deployment. */}}
{{- define "dubbing.configChecksum" -}}
{{- $cfg := dict "minio" .Values.minio "redis" .Values.redis "ntfy" .Values.ntfy "stages" .Values.stages "gpu" .Values.gpu "queue" .Values.queue "modelCache" .Values.modelCache "webui" .Values.webui.publicUrl "operator" (pick .Values.operator "watchNamespace" "watchAllNamespaces" "verbose" "metricsPort") -}}
{{- toJson $cfg | sha256sum -}}
{{- end }}

{{/*
Hash of the Secrets the chart creates (minio/, ntfy/ and webui/secret.yaml), for the
checksum/secrets annotation: new credentials roll the Pods that read them. The text hashed is the
one the single templates/secrets.yaml of 0.1.0 rendered (the S3 and ntfy Secrets each followed by
a "---" line, then the web UI's, then a newline), so splitting that file changed no checksum and
an upgrade across the split restarts no Pod.
*/}}
{{- define "dubbing.secretsChecksum" -}}
{{- $text := "" -}}
{{- range $file := list "minio/secret.yaml" "ntfy/secret.yaml" -}}
{{- with include (print $.Template.BasePath "/" $file) $ | trim -}}
{{- $text = printf "%s\n%s\n---" $text . -}}
{{- end -}}
{{- end -}}
{{- with include (print .Template.BasePath "/webui/secret.yaml") . | trim -}}
{{- $text = printf "%s\n%s" $text . -}}
{{- end -}}
{{- printf "%s\n" $text | sha256sum -}}
{{- end }}

{{/* The writable /tmp every container gets next to its read-only root filesystem. */}}
{{- define "dubbing.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/*
What the operator does with jobs and their Pods: read and patch DubbingJobs (finalizers live in
metadata), write their status, create/watch/delete one Pod per stage, read its log for the last
line, and record Events. kopf also lists namespaces and CRDs to find what to watch.
No Secret reads, no pods/exec, no writes to nodes. With scoped object store credentials it writes
(create, replace: never reads) each job's own key Secret.
*/}}
{{- define "dubbing.operator.jobRules" -}}
- apiGroups: ["dubbing.dev"]
  resources: ["dubbingjobs"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["dubbing.dev"]
  resources: ["dubbingjobs/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["dubbing.dev"]
  resources: ["dubbingjobs/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.minio.scopedCredentials }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "update"]
{{- end }}
{{- end }}

{{/*
Generated credentials are kept across upgrades: an existing Secret's value is reused (lookup),
so `helm upgrade` does not rotate keys under running Pods. `helm template` has no cluster and
always shows fresh random values.
*/}}
{{- define "dubbing.keepOrRandom" -}}
{{- $existing := lookup "v1" "Secret" .ns .name }}
{{- if and $existing (index ($existing.data | default dict) .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum .length | b64enc }}
{{- end }}
{{- end }}

{{/* The model cache as a Pod volume named "models": the PVC, the host directory, or an emptyDir. */}}
{{- define "dubbing.modelCache.volume" -}}
- name: models
  {{- if not .Values.modelCache.enabled }}
  emptyDir: {}
  {{- else if .Values.modelCache.hostPath }}
  hostPath:
    path: {{ .Values.modelCache.hostPath | quote }}
    type: Directory
  {{- else }}
  persistentVolumeClaim:
    claimName: {{ include "dubbing.modelCache.claimName" . }}
  {{- end }}
{{- end }}

{{- define "dubbing.modelPull.fullname" -}}
{{- printf "%s-model-pull" (include "dubbing.fullname" .) | trunc 52 | trimSuffix "-" -}}
{{- end }}

{{/*
The Pod template of a model pull: `dubbing models pull` (CPU stage image) writing into the model
cache, HF_ENDPOINT and HF_TOKEN (from a Secret, optional) as set in modelPull. The names to pull
are the container's args. The install hook Job and the web UI's pulls (from the ConfigMap) use it.
*/}}
{{- define "dubbing.modelPull.podTemplate" -}}
metadata:
  labels:
    {{- include "dubbing.componentLabels" (dict "ctx" . "component" "model-pull") | nindent 4 }}
spec:
  restartPolicy: Never
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: pull
      image: {{ include "dubbing.image" (dict "ctx" . "image" .Values.stages.cpuImage) }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: ["dubbing", "models", "pull", "--model-cache", "/models"{{ if .Values.modelPull.allowUnpinned }}, "--allow-unpinned"{{ end }}]
      args: []
      securityContext:
        {{- toYaml .Values.containerSecurityContext | nindent 8 }}
      env:
        - name: HOME
          value: /tmp
        - name: HF_HOME
          value: /tmp/huggingface
        - name: HF_HUB_DISABLE_TELEMETRY
          value: "1"
        {{- with .Values.modelPull.endpoint }}
        - name: HF_ENDPOINT
          value: {{ . | quote }}
        {{- end }}
        {{- with .Values.modelPull.tokenSecret }}
        - name: HF_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ . }}
              key: {{ $.Values.modelPull.tokenKey }}
        {{- end }}
      resources:
        {{- toYaml .Values.modelPull.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: models
          mountPath: /models
  volumes:
    {{- include "dubbing.tmpVolume" . | nindent 4 }}
    {{- include "dubbing.modelCache.volume" . | nindent 4 }}
{{- end }}

{{/* The bundled PostgreSQL (webui.database.mode bundled): its name and its password's Secret. */}}
{{- define "dubbing.postgres.fullname" -}}
{{- printf "%s-postgres" (include "dubbing.fullname" .) -}}
{{- end }}

{{- define "dubbing.postgres.secretName" -}}
{{- .Values.webui.database.bundled.existingSecret | default (include "dubbing.postgres.fullname" .) -}}
{{- end }}
