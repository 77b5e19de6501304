// Command render builds every kustomize overlay under deploy/overlays with
// kustomize's Go API (no kubectl needed) and writes each to
// <out>/<overlay>.yaml, e.g. dist/manifests/irsa-job.yaml.
//
//	go run ./deploy/render [-overlays deploy/overlays] [-out dist/manifests]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("render", flag.ContinueOnError)
	overlays := flags.String("overlays", "deploy/overlays", "directory of kustomize overlays, one per subdirectory")
	out := flags.String("out", "dist/manifests", "directory to write <overlay>.yaml to")
	if err := flags.Parse(args); err != nil {
		return err
	}
	entries, err := os.ReadDir(*overlays)
	if err != nil {
		return fmt.Errorf("read overlays: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	fsys := filesys.MakeFsOnDisk()
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(*overlays, e.Name())
		resources, err := k.Run(fsys, dir)
		if err != nil {
			return fmt.Errorf("build %s: %w", dir, err)
		}
		yaml, err := resources.AsYaml()
		if err != nil {
			return fmt.Errorf("encode %s: %w", dir, err)
		}
		file := filepath.Join(*out, e.Name()+".yaml")
		if err := os.WriteFile(file, yaml, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		fmt.Fprintln(stdout, file)
	}
	return nil
}
