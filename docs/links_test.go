// Package docs holds the project's documentation; its test checks that every
// relative link in the repository's Markdown files resolves.
package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestRelativeLinksResolve fails on a relative link, in any Markdown file of
// the repository, whose file does not exist or whose #anchor names no heading
// of the Markdown file it points to.
func TestRelativeLinksResolve(t *testing.T) {
	files, broken, err := checkLinks("..")
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("got %d Markdown files under the repository root, want the README, ARCHITECTURE.md, docs/ ...", files)
	}
	for _, b := range broken {
		t.Error(b)
	}
}

// TestCheckLinksFindsBroken shows that the check fails on each kind of
// broken link and passes the forms GitHub resolves.
func TestCheckLinksFindsBroken(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## The `make e2e-compose` suite\n\n## Same\n\n## Same\n\n"+
		"[ok](docs/a.md) [ok](docs/a.md#b-c) [ok](#the-make-e2e-compose-suite) [ok](#same-1)\n"+
		"[ok](docs/) [ok](main.go#L3) [ok](https://example.com/x.md)\n\n[ok]: docs/a.md\n"+
		"`[not a link](missing.md)`\n\n```\n[not a link](missing.md)\n```\n\n"+
		"[bad](missing.md) [bad](docs/a.md#nowhere) [bad](#same-2)\n\n[gone]: gone.md\n")
	write("docs/a.md", "# A\n\n### B: c\n\n[bad](../README.md#top-1) [ok](../README.md#top)\n")
	write("main.go", "package main\n")

	_, broken, err := checkLinks(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"README.md: link missing.md: no such file",
		"README.md: link docs/a.md#nowhere: no heading #nowhere in docs/a.md",
		"README.md: link #same-2: no heading #same-2 in README.md",
		"README.md: link gone.md: no such file",
		"docs/a.md: link ../README.md#top-1: no heading #top-1 in README.md",
	}
	slices.Sort(want)
	slices.Sort(broken)
	if !slices.Equal(broken, want) {
		t.Errorf("got broken links\n%s\nwant\n%s", strings.Join(broken, "\n"), strings.Join(want, "\n"))
	}
}

var (
	// inlineLink matches [text](target "title"); reference matches a link
	// reference definition, [label]: target.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	reference  = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	heading    = regexp.MustCompile(`(?m)^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	linkInText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	lineAnchor = regexp.MustCompile(`^L\d+(-L\d+)?$`)
)

// checkLinks reads every Markdown file under root and returns how many it
// read and one line per relative link that does not resolve.
func checkLinks(root string) (int, []string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	anchors := map[string][]string{} // Markdown file -> its anchors, read once
	anchorsOf := func(path string) ([]string, error) {
		if a, ok := anchors[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		a := headingAnchors(string(b))
		anchors[path] = a
		return a, nil
	}
	var broken []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, nil, err
		}
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		for _, target := range links(string(b)) {
			if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				if strings.HasPrefix(path, "/") {
					dest = filepath.Join(root, path) // GitHub: the repository root
				} else {
					dest = filepath.Join(filepath.Dir(f), path)
				}
			}
			info, err := os.Stat(dest)
			if err != nil {
				broken = append(broken, fmt.Sprintf("%s: link %s: no such file", rel, target))
				continue
			}
			if anchor == "" {
				continue
			}
			if info.IsDir() || !strings.EqualFold(filepath.Ext(dest), ".md") {
				if !info.IsDir() && lineAnchor.MatchString(anchor) {
					continue
				}
				broken = append(broken, fmt.Sprintf("%s: link %s: an anchor on a file that is not Markdown", rel, target))
				continue
			}
			a, err := anchorsOf(dest)
			if err != nil {
				return 0, nil, err
			}
			if !slices.Contains(a, strings.ToLower(anchor)) {
				destRel, _ := filepath.Rel(root, dest)
				broken = append(broken, fmt.Sprintf("%s: link %s: no heading #%s in %s", rel, target, anchor, filepath.ToSlash(destRel)))
			}
		}
	}
	return len(files), broken, nil
}

// links returns the targets of the links of a Markdown text, leaving out
// fenced code blocks and code spans.
func links(text string) []string {
	var targets []string
	for _, block := range prose(text) {
		block = codeSpan.ReplaceAllString(block, "")
		for _, m := range inlineLink.FindAllStringSubmatch(block, -1) {
			targets = append(targets, m[1])
		}
		for _, m := range reference.FindAllStringSubmatch(block, -1) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

// prose returns the text outside fenced code blocks.
func prose(text string) []string {
	var out []string
	var cur strings.Builder
	fence := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
			out = append(out, cur.String())
			cur.Reset()
		case fence != "" && strings.HasPrefix(trimmed, fence):
			fence = ""
		case fence == "":
			cur.WriteString(line)
		}
	}
	return append(out, cur.String())
}

// headingAnchors returns the anchors GitHub makes for a Markdown text's
// headings (and explicit <a name> or id anchors): the heading's text in
// lower case, punctuation dropped, spaces as hyphens, "-1", "-2" ... on
// repeats.
func headingAnchors(text string) []string {
	var anchors []string
	seen := map[string]int{}
	for _, block := range prose(text) {
		for _, m := range heading.FindAllStringSubmatch(block, -1) {
			h := linkInText.ReplaceAllString(m[1], "$1")
			var slug strings.Builder
			for _, r := range strings.ToLower(h) {
				switch {
				case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
					slug.WriteRune(r)
				case r == ' ':
					slug.WriteRune('-')
				}
			}
			s := slug.String()
			if n := seen[s]; n > 0 {
				anchors = append(anchors, fmt.Sprintf("%s-%d", s, n))
			} else {
				anchors = append(anchors, s)
			}
			seen[s]++
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(block, -1) {
			anchors = append(anchors, strings.ToLower(m[1]))
		}
	}
	return anchors
}

// TestREADMESize keeps the README a ten-minute read: details belong one link
// away, in docs/ or next to what they describe.
func TestREADMESize(t *testing.T) {
	const limit = 12 << 10
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > limit {
		t.Errorf("README.md: got %d bytes, want at most %d: move details to docs/ and link them", len(b), limit)
	}
}
