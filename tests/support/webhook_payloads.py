"""Webhook payloads written from the sources' published documentation: GitLab's "Webhook
events" examples and PagerDuty's v3 webhook overview (the incident event data)."""

from __future__ import annotations

from typing import Any

PROJECT = {
    "id": 15,
    "name": "Diaspora",
    "web_url": "http://example.com/mike/diaspora",
    "namespace": "Mike",
    "path_with_namespace": "mike/diaspora",
    "default_branch": "master",
}
PUSH = {
    "object_kind": "push",
    "event_name": "push",
    "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
    "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "ref": "refs/heads/task-17-cache",
    "user_id": 4,
    "user_name": "John Smith",
    "user_username": "jsmith",
    "project_id": 15,
    "project": PROJECT,
    "commits": [
        {
            "id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
            "message": "Update Catalan translation to e38cb41.\n\nSee TASK-17 for more information",
            "title": "Update Catalan translation to e38cb41.",
            "timestamp": "2011-12-12T14:27:31+02:00",
            "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
        },
        {
            "id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "message": "fixed readme",
            "title": "fixed readme",
            "timestamp": "2012-01-03T23:36:29+02:00",
            "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.(none)"},
        },
    ],
    "total_commits_count": 2,
}
MERGE_REQUEST = {
    "object_kind": "merge_request",
    "event_type": "merge_request",
    "user": {"id": 1, "name": "Administrator", "username": "root"},
    "project": PROJECT,
    "object_attributes": {
        "id": 99,
        "iid": 1,
        "target_branch": "master",
        "source_branch": "ms-viewport",
        "title": "MS-Viewport (RFC-3)",
        "created_at": "2013-12-03T17:23:34Z",
        "updated_at": "2013-12-03T17:45:34Z",
        "state": "merged",
        "merge_commit_sha": "7b0a4e7d8f2c3b1a6e5d4c3b2a1f0e9d8c7b6a5f",
        "description": "",
        "last_commit": {
            "id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "message": "fixed readme",
            "timestamp": "2012-01-03T23:36:29+02:00",
        },
        "action": "merge",
    },
}
DEPLOYMENT = {
    "object_kind": "deployment",
    "status": "success",
    "status_changed_at": "2021-04-28 21:50:00 +0200",
    "deployment_id": 15,
    "deployable_id": 796,
    "deployable_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
    "environment": "live",
    "environment_tier": "production",
    "environment_slug": "live",
    "project": PROJECT,
    "short_sha": "279484c0",
    "user": {"id": 1, "name": "Administrator", "username": "root"},
    "commit_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/commit/"
    "279484c09fbe69ededfced8c1bb6e6d24616b468",
    "commit_title": "Add new file",
}
PIPELINE = {
    "object_kind": "pipeline",
    "object_attributes": {"id": 31, "iid": 3, "status": "success", "duration": 63},
    "project": PROJECT,
    "builds": [],
}
INCIDENT = {
    "object_kind": "issue",
    "event_type": "issue",
    "user": {"id": 1, "name": "Administrator", "username": "root"},
    "project": PROJECT,
    "object_attributes": {
        "id": 301,
        "iid": 23,
        "title": "Checkout errors after the release",
        "description": "Caused by deployment: 15",
        "state": "opened",
        "created_at": "2021-04-28T20:10:00Z",
        "updated_at": "2021-04-28T20:10:00Z",
        "closed_at": None,
        "action": "open",
        "type": "Incident",
        "severity": "high",
    },
    "labels": [],
}

TRIGGERED: dict[str, Any] = {
    "event": {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2020-10-02T18:45:22.169Z",
        "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {
            "id": "PGR0VU2",
            "type": "incident",
            "number": 2,
            "status": "triggered",
            "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": "2020-04-09T15:16:27Z",
            "title": "A little bump in the road [deployment:145988746]",
            "service": {"id": "PF9KMXH", "summary": "API Service", "type": "service_reference"},
            "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high",
            "resolve_reason": None,
        },
    }
}
