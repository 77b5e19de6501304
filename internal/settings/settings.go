// Package settings reads a struct of settings from the environment with
// github.com/kelseyhightower/envconfig tags (envconfig, default, required,
// desc) and bounds (min, max), reporting every problem at once, each naming
// its variable, and
// describes the struct for help and logs. The struct, its types and its
// validation stay with the command that owns them.
package settings

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Load fills the struct ptr points to from the environment, one field at a
// time so that a bad value does not hide the problems of the fields after it,
// checks the bounds its min and max tags set (on durations and integers),
// then runs validate. A variable that did not parse is reported once: the
// problems validate finds for it ("NAME: ...") are dropped.
func Load(ptr any, validate func() []error) error {
	var problems []error
	v := reflect.ValueOf(ptr).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		one := reflect.New(reflect.StructOf([]reflect.StructField{f}))
		if err := envconfig.Process("", one.Interface()); err != nil {
			problems = append(problems, problem(f, err))
			continue
		}
		v.Field(i).Set(one.Elem().Field(0))
		if err := bounds(f, v.Field(i)); err != nil {
			problems = append(problems, err)
		}
	}
	parsed := len(problems)
	for _, p := range validate() {
		name, _, _ := strings.Cut(p.Error(), ":")
		if !slices.ContainsFunc(problems[:parsed], func(q error) bool { return strings.HasPrefix(q.Error(), name+":") }) {
			problems = append(problems, p)
		}
	}
	return errors.Join(problems...)
}

func problem(f reflect.StructField, err error) error {
	name := f.Tag.Get("envconfig")
	var perr *envconfig.ParseError
	switch {
	case errors.As(err, &perr) && perr.Err != nil && ownType(f.Type):
		// A type of the command's own: its error says what is accepted.
		return fmt.Errorf("%s: %w", name, perr.Err)
	case errors.As(err, &perr):
		return fmt.Errorf("%s: cannot parse %q as %s", name, perr.Value, perr.TypeName)
	case strings.Contains(err.Error(), "required key"):
		return fmt.Errorf("%s: required, not set", name)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

// bounds checks v, the value of field f, against f's min and max tags, if
// any: `NAME: must be >= 1s and <= 1h0m0s, got "0s"`.
func bounds(f reflect.StructField, v reflect.Value) error {
	if f.Tag.Get("min") == "" && f.Tag.Get("max") == "" {
		return nil
	}
	isDuration := v.Type() == reflect.TypeFor[time.Duration]()
	show := func(n int64) string {
		if isDuration {
			return time.Duration(n).String()
		}
		return strconv.FormatInt(n, 10)
	}
	name, got := f.Tag.Get("envconfig"), v.Int()
	var want []string
	out := false
	for _, b := range []struct{ tag, op string }{{"min", ">="}, {"max", "<="}} {
		s, ok := f.Tag.Lookup(b.tag)
		if !ok {
			continue
		}
		limit, err := strconv.ParseInt(s, 10, 64)
		if isDuration {
			var d time.Duration
			d, err = time.ParseDuration(s)
			limit = int64(d)
		}
		if err != nil {
			return fmt.Errorf("%s: bad %s tag %q: %w", name, b.tag, s, err)
		}
		want = append(want, b.op+" "+show(limit))
		out = out || (b.tag == "min" && got < limit) || (b.tag == "max" && got > limit)
	}
	if !out {
		return nil
	}
	shown := show(got)
	if isDuration {
		shown = strconv.Quote(shown)
	}
	return fmt.Errorf("%s: must be %s, got %s", name, strings.Join(want, " and "), shown)
}

// ownType reports whether t parses itself (envconfig.Decoder or
// encoding.TextUnmarshaler), so that its error says what is accepted.
func ownType(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[envconfig.Decoder]()) || p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// Names returns the variable names of the struct v, in field order.
func Names(v any) []string {
	t := reflect.TypeOf(v)
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("envconfig")
	}
	return names
}

// WriteUsage writes one line per variable of the struct v: name, default
// (or "(required)") and description.
func WriteUsage(w io.Writer, v any) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		f := t.Field(i)
		def := f.Tag.Get("default")
		if f.Tag.Get("required") == "true" {
			def = "(required)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Tag.Get("envconfig"), def, f.Tag.Get("desc"))
	}
	return tw.Flush()
}

// LogValue is the struct v for a log line, each variable under its
// lower-cased name; durations as text, and the values named in redact
// (lower-cased names) passed through their function first.
func LogValue(v any, redact map[string]func(string) string) slog.Value {
	rv := reflect.ValueOf(v)
	attrs := make([]slog.Attr, 0, rv.NumField())
	for i := range rv.NumField() {
		name := strings.ToLower(rv.Type().Field(i).Tag.Get("envconfig"))
		val := rv.Field(i).Interface()
		switch x := val.(type) {
		case time.Duration:
			val = x.String()
		case string:
			if f, ok := redact[name]; ok {
				val = f(x)
			}
		}
		attrs = append(attrs, slog.Any(name, val))
	}
	return slog.GroupValue(attrs...)
}
