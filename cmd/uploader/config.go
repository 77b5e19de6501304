package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// config is the whole configuration, read from the environment. The names are
// those of the walkthrough's manifests, so they keep working; endpoints and
// checksums use the SDK's own variables (AWS_ENDPOINT_URL_S3, ...).
type config struct {
	Bucket       string `envconfig:"S3_BUCKET_NAME" required:"true" desc:"bucket the images are written to"`
	KeyPrefix    string `envconfig:"S3_KEY_PREFIX" desc:"prefix of every object key, e.g. images/"`
	UsePathStyle bool   `envconfig:"S3_USE_PATH_STYLE" default:"false" desc:"path-style addressing, for MinIO and other S3-compatible stores"`

	SourceURL     string        `envconfig:"IMAGE_SOURCE_URL" default:"https://picsum.photos/1024/768" desc:"http(s) URL answering with a random image, or builtin: for an image made in process"`
	MaxImageBytes int64         `envconfig:"MAX_IMAGE_BYTES" default:"33554432" desc:"largest image accepted, in bytes"`
	FetchTimeout  time.Duration `envconfig:"FETCH_TIMEOUT" default:"30s" desc:"bound on one download, headers and body; the body streams into S3, so this bounds the upload too"`

	Interval        time.Duration `envconfig:"UPLOAD_INTERVAL" default:"30s" desc:"time between the starts of two cycles; the first starts at once"`
	Count           int           `envconfig:"UPLOAD_COUNT" default:"0" desc:"0 runs forever (Deployment); N exits 0 after N uploads (Job)"`
	MaxFailures     int           `envconfig:"UPLOAD_MAX_CONSECUTIVE_FAILURES" default:"5" desc:"Job mode exits non-zero after this many failed cycles in a row"`
	CycleTimeout    time.Duration `envconfig:"UPLOAD_TIMEOUT" default:"2m" desc:"deadline of one cycle: credentials, download and upload"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"25s" desc:"on SIGTERM, time the upload in flight gets to finish; with the abort that may follow (4s) it stays below Kubernetes' 30s grace"`

	RequireModes   string `envconfig:"REQUIRE_CREDENTIAL_MODE" desc:"comma list of allowed credential modes (static, node-role, irsa, pod-identity, ecs, shared-profile); refuse to start otherwise"`
	LeastPrivilege string `envconfig:"LEAST_PRIVILEGE_CHECK" default:"off" desc:"off, warn or enforce: probe at start that the credentials can put objects and nothing more"`
	PodName        string `envconfig:"POD_NAME" desc:"name used in object keys; defaults to the hostname"`
	MetricsAddr    string `envconfig:"METRICS_ADDR" default:":9090" desc:"listen address of /metrics, /healthz and /readyz; empty disables"`
	LogFormat      string `envconfig:"LOG_FORMAT" default:"json" desc:"json or text"`
	LogLevel       string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// loadConfig reads the environment and validates it, reporting every problem
// at once, each naming its variable.
func loadConfig() (config, error) {
	var cfg config
	problems := processEach(&cfg)
	for _, p := range cfg.validate() {
		// A variable that did not parse has been reported already.
		if !slices.ContainsFunc(problems, func(q error) bool {
			name, _, _ := strings.Cut(p.Error(), ":")
			return strings.HasPrefix(q.Error(), name+":")
		}) {
			problems = append(problems, p)
		}
	}
	return cfg, errors.Join(problems...)
}

// processEach runs envconfig on one field at a time, so that a bad value does
// not hide the problems of the fields after it, as one Process call would.
func processEach(cfg *config) []error {
	var problems []error
	v := reflect.ValueOf(cfg).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		one := reflect.New(reflect.StructOf([]reflect.StructField{f}))
		if err := envconfig.Process("", one.Interface()); err != nil {
			problems = append(problems, envProblem(f, err))
			continue
		}
		v.Field(i).Set(one.Elem().Field(0))
	}
	return problems
}

func envProblem(f reflect.StructField, err error) error {
	name := f.Tag.Get("envconfig")
	var perr *envconfig.ParseError
	switch {
	case errors.As(err, &perr):
		return fmt.Errorf("%s: cannot parse %q as %s", name, perr.Value, perr.TypeName)
	case strings.Contains(err.Error(), "required key"):
		return fmt.Errorf("%s: required, not set", name)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

func (c config) validate() []error {
	var p []error
	bad := func(name, format string, args ...any) {
		p = append(p, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if c.Bucket == "" {
		bad("S3_BUCKET_NAME", "required, not set")
	} else if len(c.Bucket) < 3 || len(c.Bucket) > 63 || strings.ContainsAny(c.Bucket, " /:") {
		bad("S3_BUCKET_NAME", "not a valid bucket name: %q", c.Bucket)
	}
	if err := upload.CheckPrefix(c.KeyPrefix); err != nil {
		bad("S3_KEY_PREFIX", "%v", err)
	}
	if _, err := creds.ParseModes(c.RequireModes); err != nil {
		bad("REQUIRE_CREDENTIAL_MODE", "%v", err)
	}
	if c.SourceURL != "builtin:" {
		if u, err := url.Parse(c.SourceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("IMAGE_SOURCE_URL", "must be an http(s) URL or builtin:, got %q", redactURL(c.SourceURL))
		}
	}
	if c.MaxImageBytes < 1 {
		bad("MAX_IMAGE_BYTES", "must be >= 1, got %d", c.MaxImageBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"UPLOAD_INTERVAL", c.Interval, 100 * time.Millisecond},
		{"FETCH_TIMEOUT", c.FetchTimeout, 100 * time.Millisecond},
		{"UPLOAD_TIMEOUT", c.CycleTimeout, 100 * time.Millisecond},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 0},
	} {
		if d.v < d.min {
			bad(d.name, "must be >= %s, got %q", d.min, d.v)
		}
	}
	if c.Count < 0 {
		bad("UPLOAD_COUNT", "must be >= 0, got %d", c.Count)
	}
	if c.MaxFailures < 1 {
		bad("UPLOAD_MAX_CONSECUTIVE_FAILURES", "must be >= 1, got %d", c.MaxFailures)
	}
	if !slices.Contains([]string{"off", "warn", "enforce"}, c.LeastPrivilege) {
		bad("LEAST_PRIVILEGE_CHECK", "must be off, warn or enforce, got %q", c.LeastPrivilege)
	}
	if !slices.Contains([]string{"json", "text"}, c.LogFormat) {
		bad("LOG_FORMAT", "must be json or text, got %q", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR", "must be host:port, got %q", c.MetricsAddr)
		}
	}
	return p
}

// redactURL hides a URL's password and query, which may carry secrets.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.Redacted()
}

// usage prints every variable with its default and meaning.
func usage(w io.Writer) {
	fmt.Fprintf(w, `uploader %s: fetches a random image every UPLOAD_INTERVAL and streams it into S3
through the AWS SDK default credential chain, reporting which credential mode is in use.

Usage:
  uploader              run the upload loop (configured by the environment below)
  uploader check        resolve credentials, print the identity and probe least privilege
                        (exit 0: least privilege holds; 3: over-privileged; 4: s3:PutObject denied)
  uploader healthcheck  exit 0 when the running uploader's /healthz answers 200 (for containers)
  uploader version      print the version
  uploader help         print this help

Environment:
`, version)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		f := t.Field(i)
		def := f.Tag.Get("default")
		if f.Tag.Get("required") == "true" {
			def = "(required)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Tag.Get("envconfig"), def, f.Tag.Get("desc"))
	}
	tw.Flush()
	fmt.Fprint(w, `
AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile) is required.
The SDK's own variables set endpoints, credentials and checksums, e.g. AWS_ENDPOINT_URL_S3,
AWS_ENDPOINT_URL_STS, AWS_PROFILE, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE,
AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_REQUEST_CHECKSUM_CALCULATION.
`)
}

// LogValue is the effective configuration for the start line, each variable
// under its lower-cased name; the image source's password and query hidden.
func (c config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	attrs := make([]slog.Attr, 0, v.NumField())
	for i := range v.NumField() {
		name := strings.ToLower(v.Type().Field(i).Tag.Get("envconfig"))
		val := v.Field(i).Interface()
		switch x := val.(type) {
		case time.Duration:
			val = x.String()
		case string:
			if name == "image_source_url" {
				val = redactURL(x)
			}
		}
		attrs = append(attrs, slog.Any(name, val))
	}
	return slog.GroupValue(attrs...)
}

// defaultOf returns the default of the variable named env.
func defaultOf(env string) string {
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("envconfig") == env {
			return f.Tag.Get("default")
		}
	}
	return ""
}

// configVars lists the names of every configuration variable.
func configVars() []string {
	t := reflect.TypeOf(config{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("envconfig")
	}
	return names
}
