// Writes the CDEvents JSON schemas that the CDEvents Go SDK ships (every specification version
// it supports) into a directory, one file per schema, named after the schema's $id path:
// <dir>/<spec version>/<name>.json. infra/setup.sh runs it; the receiver validates CDEvents
// against these files (producers/receiver/cdevents.py).
//
// usage: go run . <dir>
package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	api "github.com/cdevents/sdk-go/pkg/api"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: schemas <dir>")
		os.Exit(2)
	}
	written := 0
	for id, schema := range api.SchemasById {
		parsed, err := url.Parse(id)
		if err != nil || parsed.Host != "cdevents.dev" {
			continue // the SDK's own test schemas
		}
		// /0.5.1/schema/service-deployed-event -> 0.5.1/service-deployed-event.json
		parts := strings.Split(strings.Trim(parsed.Path, "/"), "/")
		if len(parts) < 3 || parts[1] != "schema" {
			continue
		}
		path := filepath.Join(os.Args[1], parts[0], strings.Join(parts[2:], "-")+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(path, []byte(schema), 0o644); err != nil {
			panic(err)
		}
		written++
	}
	fmt.Printf("%d CDEvents schemas written under %s\n", written, os.Args[1])
}
