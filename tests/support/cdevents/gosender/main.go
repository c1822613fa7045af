// A CDEvents 0.5 sender built only from the CDEvents Go SDK and the CloudEvents Go SDK: it
// builds one event of each type the receiver supports (ticket events included, which exist
// from specification 0.4 on) and POSTs it, in binary or structured mode, to the receiver.
// Built and run by the tests (tests/support/receiver.py).
//
// usage: gosender <url> <bearer token> <project> <binary|structured> <run tag>
// Prints one JSON line per event sent: {"type", "id", "mode", "status"}.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	api "github.com/cdevents/sdk-go/pkg/api"
	cdevents "github.com/cdevents/sdk-go/pkg/api/v05"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

type custom map[string]any

func main() {
	url, token, project, mode, tag := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	source := "/ci/" + tag
	change, ticket, incident := "change-"+tag, "ticket-"+tag, "incident-"+tag
	prod := &api.Reference{Id: "production"}
	service := &api.Reference{Id: "service/checkout"}
	with := func(data custom) custom { data["project"] = project; return data }

	created := must(cdevents.NewTicketCreatedEvent())
	created.SetSource(source)
	created.SetSubjectId(ticket)
	created.SetSubjectSummary("add the checkout retry")
	created.SetSubjectCreator("copilot-swe-agent[bot]")
	created.SetSubjectUri("https://tracker.example/" + ticket)
	check(created.SetCustomData("application/json", with(custom{"rfc_id": "rfc-" + tag})))
	send(url, token, mode, created)

	started := must(cdevents.NewTicketUpdatedEvent())
	started.SetSource(source)
	started.SetSubjectId(ticket)
	started.SetSubjectUpdatedBy("copilot-swe-agent[bot]")
	started.SetSubjectUri("https://tracker.example/" + ticket)
	check(started.SetCustomData("application/json", with(custom{"state": "started"})))
	send(url, token, mode, started)

	closed := must(cdevents.NewTicketClosedEvent())
	closed.SetSource(source)
	closed.SetSubjectId(ticket)
	closed.SetSubjectUpdatedBy("copilot-swe-agent[bot]")
	closed.SetSubjectResolution("completed")
	closed.SetSubjectUri("https://tracker.example/" + ticket)
	check(closed.SetCustomData("application/json", with(custom{
		"tokens": 18250, "cost_usd": 0.42, "duration_seconds": 754.5, "rfc_id": "rfc-" + tag})))
	send(url, token, mode, closed)

	merged := must(cdevents.NewChangeMergedEvent())
	merged.SetSource(source)
	merged.SetSubjectId(change)
	merged.SetSubjectRepository(&api.Reference{Id: "repo-" + tag})
	check(merged.SetCustomData("application/json", with(custom{
		"committed_at": "2026-01-01T10:00:00Z", "commit_sha": "c0ffee" + tag, "task_id": ticket})))
	send(url, token, mode, merged)

	reviewed := must(cdevents.NewChangeReviewedEvent())
	reviewed.SetSource(source)
	reviewed.SetSubjectId(change)
	reviewed.SetSubjectRepository(&api.Reference{Id: "repo-" + tag})
	check(reviewed.SetCustomData("application/json", with(custom{
		"outcome": "approved", "findings_count": 2})))
	send(url, token, mode, reviewed)

	deployed := must(cdevents.NewServiceDeployedEvent())
	deployed.SetSource(source)
	deployed.SetSubjectId("service/checkout")
	deployed.SetSubjectEnvironment(prod)
	deployed.SetSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1c")
	check(deployed.SetCustomData("application/json", with(custom{"change_ids": []string{change}})))
	send(url, token, mode, deployed)
	deployment := deployed.GetId() // the CDEvent's own id is the deployment id

	upgraded := must(cdevents.NewServiceUpgradedEvent())
	upgraded.SetSource(source)
	upgraded.SetSubjectId("service/checkout")
	upgraded.SetSubjectEnvironment(prod)
	upgraded.SetSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1d")
	check(upgraded.SetCustomData("application/json", with(custom{"kind": "hotfix"})))
	send(url, token, mode, upgraded)

	detected := must(cdevents.NewIncidentDetectedEvent())
	detected.SetSource(source)
	detected.SetSubjectId(incident)
	detected.SetSubjectDescription("checkout errors")
	detected.SetSubjectEnvironment(prod)
	detected.SetSubjectService(service)
	detected.SetSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1c")
	check(detected.SetCustomData("application/json", with(custom{
		"severity": "sev2", "caused_by_deployment_id": deployment})))
	send(url, token, mode, detected)

	rolledback := must(cdevents.NewServiceRolledbackEvent())
	rolledback.SetSource(source)
	rolledback.SetSubjectId("service/checkout")
	rolledback.SetSubjectEnvironment(prod)
	rolledback.SetSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1a")
	check(rolledback.SetCustomData("application/json", with(custom{
		"rolls_back_deployment_id": deployment, "remediates_incident_id": incident})))
	send(url, token, mode, rolledback)

	resolved := must(cdevents.NewIncidentResolvedEvent())
	resolved.SetSource(source)
	resolved.SetSubjectId(incident)
	resolved.SetSubjectDescription("checkout errors")
	resolved.SetSubjectEnvironment(prod)
	resolved.SetSubjectService(service)
	resolved.SetSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1c")
	check(resolved.SetCustomData("application/json", with(custom{
		"severity": "sev2", "caused_by_deployment_id": deployment})))
	send(url, token, mode, resolved)

	tests := must(cdevents.NewTestSuiteRunFinishedEvent())
	tests.SetSource(source)
	tests.SetSubjectId("suite-run-" + tag)
	tests.SetSubjectOutcome("failure")
	tests.SetSubjectEnvironment(&api.Reference{Id: "ci"})
	check(tests.SetCustomData("application/json", with(custom{
		"passed": 120, "failed": 2, "skipped": 3, "duration_seconds": 93.5, "change_id": change})))
	send(url, token, mode, tests)
}

func send(url, token, mode string, event api.CDEventReader) {
	check(api.Validate(event)) // against the SDK's own copy of the schemas
	cloud, err := api.AsCloudEvent(event)
	check(err)
	ctx := context.Background()
	if mode == "structured" {
		ctx = binding.WithForceStructured(ctx)
	} else {
		ctx = binding.WithForceBinary(ctx)
	}
	request, err := http.NewRequest(http.MethodPost, url, nil)
	check(err)
	request.Header.Set("Authorization", "Bearer "+token)
	check(cehttp.WriteRequest(ctx, binding.ToMessage(cloud), request))
	body, err := io.ReadAll(request.Body)
	check(err)
	request.Body = io.NopCloser(bytes.NewReader(body))
	response, err := http.DefaultClient.Do(request)
	check(err)
	response.Body.Close()
	line, _ := json.Marshal(map[string]any{
		"type": cloud.Type(), "id": cloud.ID(), "mode": mode, "status": response.StatusCode})
	fmt.Println(string(line))
}

func must[T any](value T, err error) T { check(err); return value }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
