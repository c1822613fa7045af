// A CDEvents sender built only from the CDEvents Java SDK and the CloudEvents Java SDK: it
// builds one event of each type the receiver supports and POSTs it, in binary or structured
// mode, to the receiver. Compiled and run by the tests (tests/support/receiver.py).
//
// usage: java SendCDEvents <url> <bearer token> <project> <binary|structured> <run tag>
// Prints one JSON line per event sent: {"type", "id", "status", "mode"}.

import dev.cdevents.CDEvents;
import dev.cdevents.events.ChangeMergedCDEvent;
import dev.cdevents.events.ChangeReviewedCDEvent;
import dev.cdevents.events.IncidentDetectedCDEvent;
import dev.cdevents.events.IncidentResolvedCDEvent;
import dev.cdevents.events.ServiceDeployedCDEvent;
import dev.cdevents.events.ServiceRolledbackCDEvent;
import dev.cdevents.events.ServiceUpgradedCDEvent;
import dev.cdevents.events.TestsuiterunFinishedCDEvent;
import dev.cdevents.models.CDEvent;
import dev.cdevents.models.testsuiterun.finished.Content;
import io.cloudevents.CloudEvent;
import io.cloudevents.http.HttpMessageFactory;
import io.cloudevents.jackson.JsonFormat;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class SendCDEvents {
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        String url = args[0], token = args[1], project = args[2], mode = args[3], tag = args[4];
        URI source = URI.create("/ci/" + tag);
        String change = "change-" + tag;

        ChangeMergedCDEvent merged = new ChangeMergedCDEvent();
        merged.setSource(source);
        merged.setSubjectId(change);
        merged.setSubjectSource(source);
        merged.setSubjectRepositoryId("repo-" + tag);
        merged.setCustomData(custom(project, "committed_at", "2026-01-01T10:00:00Z",
                "commit_sha", "c0ffee" + tag));
        send(url, token, mode, merged);

        ChangeReviewedCDEvent reviewed = new ChangeReviewedCDEvent();
        reviewed.setSource(source);
        reviewed.setSubjectId(change);
        reviewed.setSubjectSource(source);
        reviewed.setSubjectRepositoryId("repo-" + tag);
        reviewed.setCustomData(custom(project, "outcome", "approved", "findings_count", 2));
        send(url, token, mode, reviewed);

        ServiceDeployedCDEvent deployed = new ServiceDeployedCDEvent();
        deployed.setSource(source);
        deployed.setSubjectId("service/checkout");
        deployed.setSubjectSource(source);
        deployed.setSubjectEnvironmentId("production");
        deployed.setSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1c");
        deployed.setCustomData(custom(project, "change_ids", List.of(change)));
        send(url, token, mode, deployed);
        // The CDEvent's own id (not its CloudEvent's) is the deployment id.
        String deployment = deployed.getContext().getId();

        ServiceUpgradedCDEvent upgraded = new ServiceUpgradedCDEvent();
        upgraded.setSource(source);
        upgraded.setSubjectId("service/checkout");
        upgraded.setSubjectSource(source);
        upgraded.setSubjectEnvironmentId("production");
        upgraded.setSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1d");
        upgraded.setCustomData(custom(project, "kind", "hotfix"));
        send(url, token, mode, upgraded);

        IncidentDetectedCDEvent detected = new IncidentDetectedCDEvent();
        detected.setSource(source);
        detected.setSubjectId("incident-" + tag);
        detected.setSubjectSource(source);
        detected.setSubjectDescription("checkout errors");
        detected.setSubjectEnvironmentId("production");
        detected.setSubjectServiceId("service/checkout");
        detected.setCustomData(custom(project, "severity", "sev2",
                "caused_by_deployment_id", deployment));
        send(url, token, mode, detected);

        ServiceRolledbackCDEvent rolledback = new ServiceRolledbackCDEvent();
        rolledback.setSource(source);
        rolledback.setSubjectId("service/checkout");
        rolledback.setSubjectSource(source);
        rolledback.setSubjectEnvironmentId("production");
        rolledback.setSubjectArtifactId("pkg:oci/checkout@sha256%3A0b1a");
        rolledback.setCustomData(custom(project, "rolls_back_deployment_id", deployment,
                "remediates_incident_id", "incident-" + tag));
        send(url, token, mode, rolledback);

        IncidentResolvedCDEvent resolved = new IncidentResolvedCDEvent();
        resolved.setSource(source);
        resolved.setSubjectId("incident-" + tag);
        resolved.setSubjectSource(source);
        resolved.setSubjectDescription("checkout errors");
        resolved.setSubjectEnvironmentId("production");
        resolved.setSubjectServiceId("service/checkout");
        resolved.setCustomData(custom(project, "severity", "sev2",
                "caused_by_deployment_id", deployment));
        send(url, token, mode, resolved);

        TestsuiterunFinishedCDEvent tests = new TestsuiterunFinishedCDEvent();
        tests.setSource(source);
        tests.setSubjectId("suite-run-" + tag);
        tests.setSubjectSource(source);
        tests.setSubjectOutcome(Content.Outcome.FAIL);
        tests.setSubjectEnvironmentId("ci");
        tests.setSubjectTestSuiteId("unit");
        tests.setSubjectTestSuiteName("unit tests");
        tests.setCustomData(custom(project, "passed", 120, "failed", 2, "skipped", 3,
                "duration_seconds", 93.5, "change_id", change));
        send(url, token, mode, tests);
    }

    private static Map<String, Object> custom(String project, Object... pairs) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("project", project);
        for (int i = 0; i < pairs.length; i += 2) {
            data.put((String) pairs[i], pairs[i + 1]);
        }
        return data;
    }

    private static void send(String url, String token, String mode, CDEvent cdEvent)
            throws Exception {
        CloudEvent event = CDEvents.cdEventAsCloudEvent(cdEvent);
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer " + token);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        var writer = HttpMessageFactory.createWriter(
                (name, value) -> request.header(name, value), bytes -> body.writeBytes(bytes));
        if (mode.equals("structured")) {
            writer.writeStructured(event, new JsonFormat());
        } else {
            writer.writeBinary(event);
        }
        HttpResponse<String> response = HTTP.send(
                request.POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
        System.out.println("{\"type\": \"" + event.getType() + "\", \"id\": \"" + event.getId()
                + "\", \"mode\": \"" + mode + "\", \"status\": " + response.statusCode() + "}");
    }
}
