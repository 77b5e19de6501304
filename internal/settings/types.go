package settings

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Decimal is an integer written in base 10 only: envconfig's own int
// parsing would take 0x10 as 16 and 0o7 as 7.
type Decimal int64

// Decode implements envconfig.Decoder.
func (d *Decimal) Decode(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("must be a base-10 integer, got %q", s)
	}
	*d = Decimal(n)
	return nil
}

// Level is a log level given by one of its four names (debug, info, warn,
// error, in any case), nothing else: slog's own parsing would take "info+4".
type Level struct{ slog.Level }

// Decode implements envconfig.Decoder.
func (l *Level) Decode(s string) error {
	names := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	level, ok := names[strings.ToLower(s)]
	if !ok {
		return fmt.Errorf("must be debug, info, warn or error, got %q", s)
	}
	l.Level = level
	return nil
}

// LogFormat is how log lines are written: "json" or "text".
type LogFormat string

// Decode implements envconfig.Decoder.
func (f *LogFormat) Decode(s string) error {
	if s != "json" && s != "text" {
		return fmt.Errorf("must be json or text, got %q", s)
	}
	*f = LogFormat(s)
	return nil
}

// Logger returns the logger that writes to w in format, from level up.
func Logger(w io.Writer, format LogFormat, level Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level.Level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
