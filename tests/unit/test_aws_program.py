"""The real program under Pulumi mocks for every AWS stack file (staging, production): the
properties the AWS target promises, checked on what the program registers."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.aws.task_definition import ROLLOUT_FINGERPRINT
from infra.plan import Plan, PlannedResource, apply_sets, diff_plans, evaluate, load_stack_config
from tests.unit.stacks import stacks_for
from tests.unit.test_program import depends_on, one

AWS_STACKS = stacks_for("aws")
DIGEST_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9/._-]+@sha256:[0-9a-f]{64}$"
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY$|DATABASE_URL")


@pytest.fixture(scope="module", params=AWS_STACKS)
def aws_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, evaluate(load_stack_config(request.param))


def of_type(plan: Plan, token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == token]


def container_definitions(plan: Plan) -> Iterator[tuple[PlannedResource, dict[str, Any]]]:
    for task in of_type(plan, "aws:ecs/taskDefinition:TaskDefinition"):
        for definition in json.loads(task.inputs["containerDefinitions"]):
            yield task, definition


def test_staging_and_production_target_aws() -> None:
    assert {"staging", "production"} <= set(AWS_STACKS)


def test_release_graph_runs_in_runbook_order(aws_plan: tuple[str, Plan]) -> None:
    _, plan = aws_plan
    pins = {name: one(plan, ":ImagePin", f"pin-{name}") for name in ("api", "web", "migrations")}
    snapshot = one(plan, ":PreMigrationSnapshot", "pre-migration-snapshot")
    migration = one(plan, ":MigrationRun", "migration")
    api = one(plan, "aws:ecs/service:Service", "service-api")
    web = one(plan, "aws:ecs/service:Service", "service-web")
    api_gate, web_gate = one(plan, ":HealthGate", "gate-api"), one(plan, ":HealthGate", "gate-web")
    ledger = one(plan, ":ReleaseLedger", "release-ledger")
    assert depends_on(plan, snapshot, pins["migrations"])
    assert depends_on(plan, migration, snapshot)
    assert depends_on(plan, api, migration)
    assert depends_on(plan, api_gate, api)
    assert depends_on(plan, web, api_gate)
    assert depends_on(plan, web_gate, web)
    assert depends_on(plan, ledger, web_gate) and depends_on(plan, ledger, api_gate)
    assert not depends_on(plan, api, web)


def test_repositories_are_immutable_scanned_encrypted_and_keep_releases(
    aws_plan: tuple[str, Plan],
) -> None:
    _, plan = aws_plan
    repos = of_type(plan, "aws:ecr/repository:Repository")
    assert {r.inputs["name"] for r in repos} == {"releasegate/api", "releasegate/web"}
    for repo in repos:
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        assert repo.protect
    for policy in of_type(plan, "aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        rules = json.loads(policy.inputs["policy"])["rules"]
        tagged = [r for r in rules if r["selection"]["tagStatus"] == "tagged"]
        assert tagged and all(r["selection"]["countType"] == "imageCountMoreThan" for r in tagged)
        assert all(r["selection"]["countNumber"] >= 10 for r in tagged)
        assert not [r for r in rules if r["selection"]["tagStatus"] == "any"]


def test_database_is_private_encrypted_backed_up_and_protected(
    aws_plan: tuple[str, Plan],
) -> None:
    stack, plan = aws_plan
    config = load_stack_config(stack).values["releasegate:database"]
    db = one(plan, "aws:rds/instance:Instance", "instance")
    inputs = db.inputs
    assert inputs["publiclyAccessible"] is False
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"]
    assert inputs["backupRetentionPeriod"] == config["backupRetentionDays"]
    assert inputs["skipFinalSnapshot"] is False
    assert inputs["finalSnapshotIdentifier"].startswith(f"releasegate-{stack}-db-final-")
    assert inputs["deleteAutomatedBackups"] is False
    assert inputs["copyTagsToSnapshot"] is True
    assert inputs["deletionProtection"] is True
    assert inputs["password"] == "[secret]"
    assert db.protect
    assert inputs["multiAz"] is config["highAvailability"]
    groups = of_type(plan, "aws:ec2/securityGroup:SecurityGroup")
    database_group = next(g for g in groups if g.name == "database")
    assert all("cidrBlocks" not in rule for rule in database_group.inputs["ingress"])


def test_production_is_hardened() -> None:
    plan = evaluate(load_stack_config("production"))
    assert one(plan, "aws:rds/instance:Instance", "instance").inputs["multiAz"] is True
    nats = of_type(plan, "aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3  # one per zone
    for secret in of_type(plan, "aws:secretsmanager/secret:Secret"):
        assert secret.inputs["recoveryWindowInDays"] == 30
    listeners = of_type(plan, "aws:lb/listener:Listener")
    assert {(x.inputs["port"], x.inputs["protocol"]) for x in listeners} == {(443, "HTTPS"),
                                                                         (80, "HTTP")}  # fmt: skip


def test_public_listeners_are_https_or_redirect(aws_plan: tuple[str, Plan]) -> None:
    _, plan = aws_plan
    for listener in of_type(plan, "aws:lb/listener:Listener"):
        if listener.inputs["protocol"] == "HTTPS":
            assert listener.inputs["certificateArn"].startswith("arn:aws:acm:")
            assert listener.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        else:
            action = listener.inputs["defaultActions"][0]
            assert action["type"] == "redirect" and action["redirect"]["protocol"] == "HTTPS"


def test_services_roll_back_on_failure_and_run_privately(aws_plan: tuple[str, Plan]) -> None:
    _, plan = aws_plan
    services = of_type(plan, "aws:ecs/service:Service")
    assert {s.name for s in services} == {"service-api", "service-web"}
    for service in services:
        inputs = service.inputs
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert inputs["waitForSteadyState"] is True
        assert inputs["networkConfiguration"]["assignPublicIp"] is False
        assert inputs["deploymentMinimumHealthyPercent"] == 100
        assert inputs["launchType"] == "FARGATE"
    for group in of_type(plan, "aws:lb/targetGroup:TargetGroup"):
        assert group.inputs["deregistrationDelay"] <= 30
        check = group.inputs["healthCheck"]
        assert check["path"] in {"/health/ready", "/api/health/ready"}
        assert check["interval"] <= 10 and check["healthyThreshold"] <= 3


def test_images_by_digest_and_secrets_by_reference_only(aws_plan: tuple[str, Plan]) -> None:
    _, plan = aws_plan
    seen = 0
    for task, definition in container_definitions(plan):
        seen += 1
        assert DIGEST_IMAGE.match(definition["image"]), definition["image"]
        for env in definition["environment"]:
            if env["name"] == ROLLOUT_FINGERPRINT:  # a fingerprint of version ids, not a value
                assert re.fullmatch(r"[0-9a-f]{16}", env["value"])
                continue
            assert not SECRET_NAME.search(env["name"]), (task.name, env)
        for secret in definition["secrets"]:
            assert secret["valueFrom"].startswith("arn:aws:secretsmanager:")
        assert definition["readonlyRootFilesystem"] is True
        assert definition["logConfiguration"]["logDriver"] == "awslogs"
    assert seen == 3  # api, web, migrations
    api = next(d for t, d in container_definitions(plan) if d["name"] == "api")
    assert [s["name"] for s in api["secrets"]] == ["DATABASE_URL", "REDIS_URL"]
    for version in of_type(plan, "aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretString"] == "[secret]"
    text = json.dumps(plan.as_json())
    assert "postgresql://" not in text and "offline-secrets-" not in text
    assert "rediss://" not in text


def test_task_definitions_are_valid_for_the_ecs_api(aws_plan: tuple[str, Plan]) -> None:
    """botocore's model of RegisterTaskDefinition validates what ECS would receive."""
    _, plan = aws_plan
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    for task in of_type(plan, "aws:ecs/taskDefinition:TaskDefinition"):
        request = {
            "family": task.inputs["family"],
            "containerDefinitions": json.loads(task.inputs["containerDefinitions"]),
            "cpu": task.inputs["cpu"],
            "memory": task.inputs["memory"],
            "networkMode": task.inputs["networkMode"],
            "requiresCompatibilities": task.inputs["requiresCompatibilities"],
            "executionRoleArn": task.inputs["executionRoleArn"],
            "taskRoleArn": task.inputs["taskRoleArn"],
            "volumes": task.inputs.get("volumes", []),
        }
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()


PINS = ["release.api=v1.4.2", "release.web=v1.4.2", "release.migrations=v1.4.2"]
"""Pinned explicitly, so these tests see the release whatever the stack file pins."""


def released(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), [*PINS, *sets]))


def execution_statements(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """Task -> the statements of its execution role's policy."""
    return {
        policy.name.removeprefix("execution-"): json.loads(policy.inputs["policy"])["Statement"]
        for policy in of_type(plan, "aws:iam/rolePolicy:RolePolicy")
        if policy.name.startswith("execution-")
    }


def resources_of(statements: list[dict[str, Any]], action: str) -> list[str]:
    return sorted(
        arn for s in statements if action in s["Action"] for arn in s["Resource"]
    )


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_task_has_its_own_execution_role_reading_only_its_secrets(stack: str) -> None:
    """A service that declares no secret can read none; the migration reads DATABASE_URL only."""
    plan = released(stack, 'services.web.secrets=["SIGNING_KEY"]',
                    'services.api.secrets=["DATABASE_URL", "PAYMENTS_TOKEN"]',
                    'generatedSecrets=["SIGNING_KEY", "PAYMENTS_TOKEN"]')
    statements = execution_statements(plan)
    assert set(statements) == {"api", "web", "migrations"}
    secret_arns = {
        s.inputs["name"].rpartition("/")[2]: f"arn:aws:secretsmanager:eu-west-1:123456789012:"
        f"secret:{s.inputs['name']}"
        for s in of_type(plan, "aws:secretsmanager/secret:Secret")
    }
    read = "secretsmanager:GetSecretValue"
    assert resources_of(statements["api"], read) == sorted(
        [secret_arns["DATABASE_URL"], secret_arns["PAYMENTS_TOKEN"]]
    )
    assert resources_of(statements["web"], read) == [secret_arns["SIGNING_KEY"]]
    assert resources_of(statements["migrations"], read) == [secret_arns["DATABASE_URL"]]
    for task, policy in statements.items():
        for statement in policy:
            if statement["Resource"] == "*":
                assert statement["Action"] == ["ecr:GetAuthorizationToken"], task
            assert statement["Effect"] == "Allow"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_a_service_declaring_no_secret_can_read_none(stack: str) -> None:
    config = load_stack_config(stack).values["releasegate:services"]
    assert not config["web"].get("secrets")  # the stack files' web declares none
    statements = execution_statements(released(stack))
    web = statements["web"]
    assert not resources_of(web, "secretsmanager:GetSecretValue")
    assert not resources_of(web, "kms:Decrypt")  # nothing of its own to decrypt
    assert resources_of(statements["api"], "kms:Decrypt")  # reads DATABASE_URL


def test_pull_and_logs_are_scoped_to_the_tasks_repository_and_log_group() -> None:
    plan = released("staging", 'migration.repository="releasegate/migrate"')
    statements = execution_statements(plan)
    repos = {r.inputs["name"]: r for r in of_type(plan, "aws:ecr/repository:Repository")}
    assert set(repos) == {"releasegate/api", "releasegate/web", "releasegate/migrate"}
    for task, repository in (("api", "releasegate/api"), ("web", "releasegate/web"),
                             ("migrations", "releasegate/migrate")):  # fmt: skip
        assert resources_of(statements[task], "ecr:BatchGetImage") == [
            f"arn:aws:ecr:eu-west-1:123456789012:repository/{repository}"
        ]
        assert resources_of(statements[task], "logs:PutLogEvents") == [
            f"arn:aws:logs:eu-west-1:123456789012:log-group:/releasegate/releasegate-staging/"
            f"{task}:*"
        ]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_task_definition_uses_its_own_roles(stack: str) -> None:
    plan = released(stack)
    roles = {r.name: r for r in of_type(plan, "aws:iam/role:Role")
             if r.name.startswith(("execution-", "task-"))}  # fmt: skip
    assert set(roles) == {f"{kind}-{task}" for kind in ("execution", "task")
                          for task in ("api", "web", "migrations")}  # fmt: skip
    tasks = {t.name: t for t in of_type(plan, "aws:ecs/taskDefinition:TaskDefinition")}
    for task_name, task in (("service-api-task", "api"), ("service-web-task", "web"),
                            ("migration-task", "migrations")):  # fmt: skip
        inputs = tasks[task_name].inputs
        assert inputs["executionRoleArn"] == f"arn:aws:iam::123456789012:role/execution-{task}"
        assert inputs["taskRoleArn"] == f"arn:aws:iam::123456789012:role/task-{task}"
        # The role's ARN reaches the task definition only once its policy is attached.
        policy = one(plan, "aws:iam/rolePolicy:RolePolicy", f"execution-{task}")
        assert depends_on(plan, tasks[task_name], policy)
    for policy in of_type(plan, "aws:iam/rolePolicy:RolePolicy"):  # task roles carry none
        assert policy.name.startswith("execution-") or policy.name == "flow-logs"


def test_gates_check_the_ecs_deployment_and_the_alb(aws_plan: tuple[str, Plan]) -> None:
    _, plan = aws_plan
    task = one(plan, "aws:ecs/taskDefinition:TaskDefinition", "service-api-task")
    gate = one(plan, ":HealthGate", "gate-api")
    assert gate.inputs["platform"]["kind"] == "ecs"
    assert gate.inputs["platform"]["task_definition"] == gate.inputs["rollout"]
    assert gate.inputs["rollout"].startswith("arn:aws:ecs:")
    assert gate.inputs["url"].startswith("https://") and gate.inputs["url"].endswith(
        "/health/ready"
    )
    assert task.inputs["family"].endswith("-api")
    # No DNS needed: the gate connects to the ALB's own DNS name, the domain stays Host/SNI.
    assert gate.inputs["connect_to"] == "alb-offline.eu-west-1.elb.amazonaws.com"
    migration = one(plan, ":MigrationRun", "migration")
    backend = migration.inputs["backend"]
    assert backend["kind"] == "ecs" and backend["assign_public_ip"] is False
    assert migration.inputs.get("secret_files") in ({}, None)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_gates_reach_each_domain_through_the_albs_own_name(stack: str) -> None:
    plan = released(stack)
    domains = load_stack_config(stack).values["releasegate:aws"]["domains"]
    alb = "alb-offline.eu-west-1.elb.amazonaws.com"
    for service, path in (("api", "/health/ready"), ("web", "/api/health/ready")):
        gate = one(plan, ":HealthGate", f"gate-{service}")
        assert gate.inputs["url"] == f"https://{domains[service]}{path}"
        assert gate.inputs["connect_to"] == alb
    assert not of_type(plan, "aws:route53/record:Record")  # no zone named: DNS is the team's


def test_without_domains_the_gate_url_already_is_the_alb() -> None:
    base = load_stack_config("staging")
    values = dict(base.values)
    aws_settings = {k: v for k, v in values["releasegate:aws"].items()
                    if k not in ("domains", "certificateArn")}  # fmt: skip
    plan = evaluate(apply_sets(base, [*PINS, f"aws={json.dumps(aws_settings)}"]))
    gate = one(plan, ":HealthGate", "gate-api")
    assert gate.inputs["url"] == "http://alb-offline.eu-west-1.elb.amazonaws.com/health/ready"
    assert not gate.inputs.get("connect_to")


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_a_named_hosted_zone_gets_an_alias_record_per_domain(stack: str) -> None:
    plan = released(stack, "aws.hostedZoneId=Z0123456789ABCDEFGHIJ",
                    "aws.hostedZoneName=example.com")
    domains = load_stack_config(stack).values["releasegate:aws"]["domains"]
    records = {r.name: r for r in of_type(plan, "aws:route53/record:Record")}
    assert set(records) == {f"dns-{service}" for service in domains}
    alb = one(plan, "aws:lb/loadBalancer:LoadBalancer", "alb")
    for service, host in domains.items():
        inputs = records[f"dns-{service}"].inputs
        assert inputs["zoneId"] == "Z0123456789ABCDEFGHIJ"
        assert (inputs["name"], inputs["type"]) == (host, "A")
        assert inputs["allowOverwrite"] is False
        assert inputs["aliases"] == [{
            "name": "alb-offline.eu-west-1.elb.amazonaws.com",
            "zoneId": "ZOFFLINEALB0000",  # the ALB's canonical zone, not the record's
            "evaluateTargetHealth": True,
        }]  # fmt: skip
        assert depends_on(plan, records[f"dns-{service}"], alb)
        # The gate never waits for the record: it connects to the ALB either way.
        assert not depends_on(plan, one(plan, ":HealthGate", f"gate-{service}"),
                              records[f"dns-{service}"])


def test_repin_changes_only_that_services_task_service_pin_and_gate() -> None:
    base = load_stack_config("staging")
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v1.4.1"])))
    touched = {(c.resource.type, c.resource.name) for c in changes}
    assert touched == {
        ("pulumi-python:dynamic/gates:ImagePin", "pin-api"),
        # The freeze guard holds the pins as configured (its check refuses a change in a window).
        ("pulumi-python:dynamic/gates:FreezeGuard", "freeze-guard"),
        # The pin's ECR keep tags move with it (an update: the kept history is its state).
        ("pulumi-python:dynamic/aws:EcrImageKeeper", "keep-api"),
        ("aws:ecs/taskDefinition:TaskDefinition", "service-api-task"),
        ("aws:ecs/service:Service", "service-api"),
        ("pulumi-python:dynamic/gates:HealthGate", "gate-api"),
        ("pulumi-python:dynamic/gates:ReleaseLedger", "release-ledger"),
        # The record that a new release was tried (who, when): every re-pin is one.
        ("pulumi-python:dynamic/gates:ReleaseAttempt", "release-attempt"),
    }
    keep = next(c for c in changes if c.resource.name == "keep-api")
    assert set(keep.changed_inputs) == {"reference"}  # not one of its replacing inputs


def test_restoring_a_snapshot_adds_an_instance_and_keeps_the_original() -> None:
    base = load_stack_config("staging")
    plan = evaluate(apply_sets(base, ["database.restoreFromSnapshot=pre-migrate-v1-4-1-x"]))
    original = one(plan, "aws:rds/instance:Instance", "instance")
    restored = one(plan, "aws:rds/instance:Instance", "restored")
    assert original.protect and restored.protect
    assert restored.inputs["snapshotIdentifier"] == "pre-migrate-v1-4-1-x"
    assert restored.inputs["identifier"] != original.inputs["identifier"]
    changes = {c.resource.name: c.kind for c in diff_plans(evaluate(base), plan)}
    assert "instance" not in changes  # the original is untouched
    assert changes["restored"] == "create"
    # The URL's new value is a new secret version, which rolls out the services that read it.
    assert changes["database-url"] == "update"
    assert changes["service-api-task"] == "update" and changes["service-api"] == "update"


def test_a_worker_is_a_private_fargate_service_without_load_balancer() -> None:
    worker = '{"command": ["python", "-m", "app.worker"], "secrets": ["DATABASE_URL"]}'
    base = load_stack_config("staging")
    plan = evaluate(apply_sets(base, [f"services.worker={worker}", "release.worker=v1.4.2"]))
    service = one(plan, "aws:ecs/service:Service", "service-worker")
    assert not service.inputs.get("loadBalancers")
    assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service.inputs["networkConfiguration"]["assignPublicIp"] is False
    assert {g.name for g in of_type(plan, "aws:lb/targetGroup:TargetGroup")} == {"tg-api", "tg-web"}
    gate = one(plan, ":HealthGate", "gate-worker")
    assert not gate.inputs.get("url")
    assert gate.inputs["platform"]["kind"] == "ecs"
    definition = next(d for _, d in container_definitions(plan) if d["name"] == "worker")
    assert "portMappings" not in definition
    assert [s["name"] for s in definition["secrets"]] == ["DATABASE_URL"]


def test_logs_go_to_log_groups_with_retention(aws_plan: tuple[str, Plan]) -> None:
    stack, plan = aws_plan
    retention = load_stack_config(stack).values["releasegate:aws"]["logRetentionDays"]
    groups = {g.inputs["name"]: g for g in of_type(plan, "aws:cloudwatch/logGroup:LogGroup")}
    assert all(g.inputs["retentionInDays"] == retention for g in groups.values())
    for _, definition in container_definitions(plan):
        assert definition["logConfiguration"]["options"]["awslogs-group"] in groups


def test_stack_key_policy_keeps_the_account_and_lets_logs_use_it_for_this_stack_only(
    aws_plan: tuple[str, Plan],
) -> None:
    stack, plan = aws_plan
    key = one(plan, "aws:kms/key:Key", "key")
    assert key.protect
    statements = json.loads(key.inputs["policy"])["Statement"]
    root = next(s for s in statements if s["Principal"].get("AWS"))
    assert root == {
        "Sid": "EnableIamPoliciesForTheAccount",
        "Effect": "Allow",
        "Action": "kms:*",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Resource": "*",
    }
    logs = next(s for s in statements if s["Principal"].get("Service"))
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    allowed = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    base = "arn:aws:logs:eu-west-1:123456789012:log-group:"
    assert f"{base}/releasegate/releasegate-{stack}/*" in allowed
    assert all(a.startswith(base) and f"releasegate-{stack}" in a for a in allowed)
    # every log group of the stack is encrypted with the key and named by the condition
    groups = of_type(plan, "aws:cloudwatch/logGroup:LogGroup")
    assert {g.name for g in groups} >= {"logs-api", "logs-web", "logs-migrations", "flow-logs",
                                       "instance-postgresql", "instance-upgrade"}  # fmt: skip
    for group in groups:
        assert group.inputs["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/key"
        arn = f"{base}{group.inputs['name']}"
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in allowed), arn
        assert depends_on(plan, group, key)


def test_a_created_vpc_logs_all_flows_to_an_encrypted_group(aws_plan: tuple[str, Plan]) -> None:
    stack, plan = aws_plan
    retention = load_stack_config(stack).values["releasegate:aws"]["logRetentionDays"]
    flow = one(plan, "aws:ec2/flowLog:FlowLog", "vpc")
    group = one(plan, "aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.inputs["logDestination"].endswith(f":log-group:{group.inputs['name']}")
    assert group.inputs["retentionInDays"] == retention
    assert depends_on(plan, flow, one(plan, "aws:ec2/vpc:Vpc", "vpc"))
    trust = json.loads(one(plan, "aws:iam/role:Role", "flow-logs").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"},
    }
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "flow-logs").inputs["policy"])
    writes = next(s for s in policy["Statement"] if "logs:PutLogEvents" in s["Action"])
    assert writes["Resource"] == [flow.inputs["logDestination"],
                                  f"{flow.inputs['logDestination']}:*"]  # fmt: skip


def test_an_existing_vpc_gets_no_flow_log() -> None:
    config = load_stack_config("staging")
    settings = {k: v for k, v in config.values["releasegate:aws"].items()
                if k not in ("vpcCidr", "availabilityZones")}  # fmt: skip
    config.values["releasegate:aws"] = {
        **settings, "vpcId": "vpc-0a1b2c3d",
        "publicSubnetIds": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"],
        "privateSubnetIds": ["subnet-2a1b2c3d", "subnet-3a1b2c3d"],
    }  # fmt: skip
    plan = evaluate(config)
    assert not of_type(plan, "aws:ec2/flowLog:FlowLog")
    assert not of_type(plan, "aws:ec2/vpc:Vpc")  # and the pack's vpc-has-flow-logs is content


def test_database_exports_its_logs_and_logs_connections_and_slow_statements(
    aws_plan: tuple[str, Plan],
) -> None:
    stack, plan = aws_plan
    db = one(plan, "aws:rds/instance:Instance", "instance")
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    for log in ("postgresql", "upgrade"):
        group = one(plan, "aws:cloudwatch/logGroup:LogGroup", f"instance-{log}")
        assert group.inputs["name"] == f"/aws/rds/instance/releasegate-{stack}-db/{log}"
        assert depends_on(plan, db, group)  # RDS publishes into the group the stack made
    group = one(plan, "aws:rds/parameterGroup:ParameterGroup", "parameters")
    assert group.inputs["family"] == "postgres16" and "name" not in group.inputs
    settings = {p["name"]: (p["value"], p["applyMethod"]) for p in group.inputs["parameters"]}
    assert settings == {
        "rds.force_ssl": ("1", "pending-reboot"),
        "log_connections": ("1", "immediate"),
        "log_disconnections": ("1", "immediate"),
        "log_min_duration_statement": ("1000", "immediate"),
    }
    tuned = released(stack, "database.slowStatementMs=250")
    group = one(tuned, "aws:rds/parameterGroup:ParameterGroup", "parameters")
    assert {"name": "log_min_duration_statement", "value": "250",
            "applyMethod": "immediate"} in group.inputs["parameters"]  # fmt: skip


def test_production_has_performance_insights_and_enhanced_monitoring() -> None:
    plan = evaluate(load_stack_config("production"))
    db = one(plan, "aws:rds/instance:Instance", "instance")
    assert db.inputs["performanceInsightsEnabled"] is True
    assert db.inputs["performanceInsightsKmsKeyId"] == db.inputs["kmsKeyId"]
    assert db.inputs["performanceInsightsRetentionPeriod"] == 7
    assert db.inputs["monitoringInterval"] == 60
    assert db.inputs["monitoringRoleArn"] == "arn:aws:iam::123456789012:role/rds-monitoring"
    role = one(plan, "aws:iam/role:Role", "rds-monitoring")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    attachment = one(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "rds-monitoring")
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    assert depends_on(plan, db, attachment)


def test_staging_has_neither_unless_configured() -> None:
    plan = evaluate(load_stack_config("staging"))
    db = one(plan, "aws:rds/instance:Instance", "instance")
    assert db.inputs["performanceInsightsEnabled"] is False
    assert "performanceInsightsKmsKeyId" not in db.inputs and db.inputs["monitoringInterval"] == 0
    assert not [r for r in of_type(plan, "aws:iam/role:Role") if r.name == "rds-monitoring"]
    on = evaluate(apply_sets(load_stack_config("staging"), [
        "database.size=medium", "aws.performanceInsights=true",
        "aws.enhancedMonitoringSeconds=30"]))  # fmt: skip
    db = one(on, "aws:rds/instance:Instance", "instance")
    assert db.inputs["performanceInsightsEnabled"] is True
    assert db.inputs["monitoringInterval"] == 30 and db.inputs["monitoringRoleArn"]
