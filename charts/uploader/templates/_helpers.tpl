{{/* The chart's name. */}}
{{- define "uploader.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release name when it contains the chart's. */}}
{{- define "uploader.fullname" -}}
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

{{- define "uploader.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: they pick this release's pods only. */}}
{{- define "uploader.selectorLabels" -}}
app.kubernetes.io/name: {{ include "uploader.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object: the kustomize bases' two and Helm's. */}}
{{- define "uploader.labels" -}}
helm.sh/chart: {{ include "uploader.chart" . }}
{{ include "uploader.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: eks-least-privilege
{{- end }}

{{- define "uploader.serviceAccountName" -}}
{{- default (include "uploader.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "uploader.configMapName" -}}
{{- printf "%s-config" (include "uploader.fullname" .) }}
{{- end }}

{{- define "uploader.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The REQUIRE_CREDENTIAL_MODE the mode implies. */}}
{{- define "uploader.requiredMode" -}}
{{- if .Values.config.requireCredentialMode }}
{{- .Values.config.requireCredentialMode }}
{{- else if eq .Values.mode "static-keys" }}
{{- "static" }}
{{- else }}
{{- .Values.mode }}
{{- end }}
{{- end }}

{{/*
The pod template of the Deployment and the Job: the same hardening as
deploy/base (non-root 65532, read-only root filesystem, no capabilities,
seccomp RuntimeDefault, no privilege escalation, fsGroup 65532 for the
projected IRSA and Pod Identity tokens). deploy/chart_test.go proves it
renders what the kustomize overlays render.
*/}}
{{- define "uploader.podTemplate" -}}
{{- $job := eq .Values.workload "job" -}}
metadata:
  labels:
    {{- include "uploader.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/part-of: eks-least-privilege
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- if $job }}
  restartPolicy: Never
  {{- end }}
  serviceAccountName: {{ include "uploader.serviceAccountName" . }}
  # IRSA and Pod Identity inject their own projected token volume; the
  # Kubernetes API token is not needed.
  automountServiceAccountToken: false
  enableServiceLinks: false
  # Longer than SHUTDOWN_TIMEOUT so an upload in flight can finish.
  terminationGracePeriodSeconds: 30
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    # Group-readable projected tokens (IRSA, Pod Identity) for the non-root
    # user.
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: uploader
      image: {{ include "uploader.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      envFrom:
        - configMapRef:
            name: {{ include "uploader.configMapName" . }}
      env:
        {{- if eq .Values.mode "static-keys" }}
        # From the Secret made out of band: keys are never values.
        - name: AWS_ACCESS_KEY_ID
          valueFrom:
            secretKeyRef:
              name: {{ default (printf "%s-aws-static" (include "uploader.fullname" .)) .Values.staticKeys.secretName }}
              key: AWS_ACCESS_KEY_ID
        - name: AWS_SECRET_ACCESS_KEY
          valueFrom:
            secretKeyRef:
              name: {{ default (printf "%s-aws-static" (include "uploader.fullname" .)) .Values.staticKeys.secretName }}
              key: AWS_SECRET_ACCESS_KEY
        {{- end }}
        # The region under env, not only through envFrom: the EKS pod
        # identity webhook appends AWS_REGION and AWS_DEFAULT_REGION (the
        # cluster's region) to env unless env already names them.
        - name: AWS_REGION
          valueFrom:
            configMapKeyRef:
              name: {{ include "uploader.configMapName" . }}
              key: AWS_REGION
        - name: AWS_DEFAULT_REGION
          valueFrom:
            configMapKeyRef:
              name: {{ include "uploader.configMapName" . }}
              key: AWS_REGION
        # Object keys carry the pod name: unique across replicas.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        # The token's sub must name this pod's service account (diagnoses).
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: POD_SERVICE_ACCOUNT
          valueFrom:
            fieldRef:
              fieldPath: spec.serviceAccountName
        {{- if $job }}
        - name: UPLOAD_COUNT
          value: {{ .Values.job.uploadCount | toString | quote }}
        - name: UPLOAD_INTERVAL
          value: {{ .Values.job.uploadInterval }}
        {{- else }}
        - name: UPLOAD_COUNT
          value: "0"
        {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.metrics.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
        periodSeconds: 20
        timeoutSeconds: 3
        failureThreshold: 3
      {{- if not $job }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
        periodSeconds: 10
        timeoutSeconds: 3
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        capabilities:
          drop:
            - ALL
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
