package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// document is a rendered policy whose statements can be kept or dropped by
// Sid, written back in the template's field order.
type document struct {
	Version   string
	Statement []statement
}

// statement is one policy statement; the values stay as the template wrote
// them.
type statement struct {
	Sid       string          `json:",omitempty"`
	Effect    string          `json:",omitempty"`
	Principal json.RawMessage `json:",omitempty"`
	Action    json.RawMessage `json:",omitempty"`
	Resource  json.RawMessage `json:",omitempty"`
	Condition json.RawMessage `json:",omitempty"`
}

// parse renders template (see render) into v, a *document or a *statement.
func parse(v any, template string, values map[string]string, required ...string) error {
	doc, err := render(template, values, required...)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields() // a template field this type would drop
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("render policy: %w", err)
	}
	return nil
}

// keep drops the statements whose Sid is not in sids.
func (d *document) keep(sids ...string) {
	d.Statement = slices.DeleteFunc(d.Statement, func(s statement) bool { return !slices.Contains(sids, s.Sid) })
}

// marshal writes v as indented JSON ending in a newline, as the templates
// are written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render policy: %w", err)
	}
	return b.Bytes(), nil
}
