package settings

import (
	"fmt"
	"io"
	"strings"
)

// Help is a command's help: a summary, its subcommands, the variables of a
// settings struct ([WriteUsage]) and notes after them.
type Help struct {
	Summary string // the first lines, ending in a newline
	// Commands are pairs of a usage and what it does; a usage too long for
	// its column has the description on the next line, and a description's
	// later lines are indented under its first.
	Commands [][2]string
	Notes    string // after the variables, ending in a newline
}

// helpColumn is the width of the usage column.
const helpColumn = 20

// Write writes h with the variables of the struct v.
func (h Help) Write(w io.Writer, v any) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nUsage:\n", h.Summary)
	indent := "\n" + strings.Repeat(" ", 2+helpColumn+2)
	for _, c := range h.Commands {
		usage, desc := c[0], strings.ReplaceAll(c[1], "\n", indent)
		if len(usage) > helpColumn {
			fmt.Fprintf(&b, "  %s%s%s\n", usage, indent, desc)
		} else {
			fmt.Fprintf(&b, "  %-*s  %s\n", helpColumn, usage, desc)
		}
	}
	b.WriteString("\nEnvironment:\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := WriteUsage(w, v); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s", h.Notes)
	return err
}
