// Package privilege tells what an AWS identity may do in the uploader's
// bucket, without destroying anything: [Check] probes s3:PutObject (which
// must be allowed) and s3:GetObject, s3:ListBucket and s3:DeleteObject (which
// must be denied), and returns a [Report] with a [Verdict]. [CheckMetric]
// exports the start-up result as uploader_least_privilege_ok.
//
// Which identity that is, and how it was obtained, is package creds; what
// the command does with a verdict (exit codes, refusing to start) is the
// command's.
package privilege
