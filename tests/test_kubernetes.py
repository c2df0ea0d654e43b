"""deploy/kubernetes renders, validates, and autoscales every queue on the depth the broker holds.

- Every pair of option values that changes the manifests is baked; both
  overlays are rendered by ``kubectl kustomize`` and each resource is validated
  strictly: Kubernetes kinds by kubernetes-validate, KEDA kinds by the OpenAPI
  schema of KEDA's own CRDs (tests/data/keda, see its NOTICE).
- Every queue of the topology has a worker group whose ScaledObject watches
  exactly that group's queues, and nothing in the manifests names a group or a
  queue the topology does not have (the expectations come from
  local_extensions.topology, the data the manifests are rendered from).
- With a real broker (slow): tasks published by the baked project's own Celery
  app to every queue, with no worker running, are all counted by reading the
  broker exactly as the rendered ScaledObjects' triggers say.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from local_extensions import topology
from tests.options import combo_id, pairwise_covering_set
from tests.test_generated_suites import UV, project_env, run

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not installed (.ci/run installs it): nothing renders"
)
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("development", "production")
KEDA_CRDS = Path(__file__).with_name("data") / "keda"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}

# Options that change what deploy/kubernetes renders.
MANIFEST_OPTIONS = [
    "framework",
    "broker",
    "result_backend",
    "queue_topology",
    "beat_scheduler",
    "monitoring",
    "message_signing",
    "use_sentry",
    "use_opentelemetry",
]
COMBINATIONS = pairwise_covering_set(MANIFEST_OPTIONS)
SHAPES = pairwise_covering_set(["broker", "queue_topology"], {"framework": "standalone"})


def render(project: Path, overlay: str) -> list[dict]:
    """The resources ``kubectl kustomize`` renders for ``overlay``."""
    folder = project / "deploy" / "kubernetes" / "overlays" / overlay
    result = subprocess.run(
        [KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _closed(schema):
    """``schema`` with unknown fields refused, as the API server's strict field validation does."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if (
        "properties" in closed
        and "additionalProperties" not in closed
        and not closed.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


@functools.cache
def keda_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """A validator per (apiVersion, kind) of the KEDA CRDs kept in tests/data/keda."""
    validators = {}
    for path in sorted(KEDA_CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _closed(version["schema"]["openAPIV3Schema"])
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def validation_errors(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in KEDA_KINDS:
            validator = keda_validators().get((doc["apiVersion"], doc["kind"]))
            if validator is None:
                errors.append(f"{where}: no KEDA CRD for {doc['apiVersion']}")
                continue
            errors += [
                f"{where}: {e.message} at {list(e.path)}" for e in validator.iter_errors(doc)
            ]
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{where}: {error.message} at {list(error.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
    return errors


# A URL with a literal password in it (user:password@); $(VAR) references are fine.
LITERAL_CREDENTIALS = re.compile(r"://[^/@\s$]*:[^/@\s$(][^/@\s]*@")


def literal_secrets(docs: list[dict]) -> list[str]:
    """Secret values written into the manifests instead of referenced."""
    found = [f"a {doc['kind']} is rendered" for doc in docs if doc["kind"] == "Secret"]
    for doc in docs:
        for match in LITERAL_CREDENTIALS.finditer(json.dumps(doc)):
            found.append(f"{doc['kind']}/{doc['metadata']['name']}: {match.group(0)}")
    return found


def launched_group(deployment: dict) -> str | None:
    """The worker group a Deployment starts with the launcher, if it does."""
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        command = container.get("command", [])
        if len(command) == 4 and command[:2] == ["python", "-m"] and command[2].endswith(".worker"):
            return command[3]
    return None


def watched(scaled_object: dict, broker: str) -> list[str]:
    """What a ScaledObject's triggers read: RabbitMQ queue names, or Redis list names."""
    key = "queueName" if broker == "rabbitmq" else "listName"
    return [trigger["metadata"][key] for trigger in scaled_object["spec"]["triggers"]]


def kombu_lists(queue: str, max_priority: int | None) -> list[str]:
    """Kombu's Redis lists of ``queue``: the name, then name + "\\x06\\x16" + level."""
    return [queue] + [f"{queue}\x06\x16{level}" for level in range(1, (max_priority or 0) + 1)]


PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def probe_problems(deployment: dict, group: str) -> list[str]:
    """A worker's probes run the progress-based health check of its own group, never a ping."""
    problems = []
    name = deployment["metadata"]["name"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for probe in PROBES:
            command = container.get(probe, {}).get("exec", {}).get("command", [])
            runs_the_check = (
                command[:2] == ["python", "-m"]
                and len(command) == 5
                and command[2].endswith(".healthcheck")
                and command[3:] == ["worker", group]
            )
            if not runs_the_check:
                problems.append(f"Deployment {name}: {probe} {command} is not the check of {group}")
    return problems


def autoscaling_problems(topo: dict, broker: str, docs: list[dict]) -> list[str]:
    """Why the manifests do not autoscale exactly the topology's queues, one line each."""
    problems = []
    groups = {worker["name"]: worker for worker in topo["workers"]}
    queues = {queue["name"] for queue in topo["queues"]}
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    group_of = {
        name: launched_group(d) for name, d in deployments.items() if launched_group(d) is not None
    }
    scaled_group = {}
    for scaled in (d for d in docs if d["kind"] == "ScaledObject"):
        name, target = scaled["metadata"]["name"], scaled["spec"]["scaleTargetRef"]["name"]
        group = group_of.get(target)
        if group is None:
            problems.append(f"ScaledObject {name} scales {target}, which runs no worker group")
            continue
        if group not in groups:
            problems.append(f"ScaledObject {name} scales group {group!r}, not in the topology")
            continue
        scaled_group[group] = name
        expected = [
            key
            for queue in groups[group]["queues"]
            for key in (
                [queue] if broker == "rabbitmq" else kombu_lists(queue, topo.get("max_priority"))
            )
        ]
        if sorted(watched(scaled, broker)) != sorted(expected):
            problems.append(
                f"ScaledObject {name} watches {watched(scaled, broker)}, "
                f"group {group} consumes {expected}"
            )
        triggers = scaled["spec"]["triggers"]
        if len(triggers) > 1:
            formula = scaled["spec"].get("advanced", {}).get("scalingModifiers", {}).get("formula")
            names = sorted(t.get("name", "") for t in triggers)
            if formula is None or sorted(formula.replace(" ", "").split("+")) != names:
                problems.append(f"ScaledObject {name}: formula {formula!r} is not the sum {names}")
    for deployment, group in group_of.items():
        if group not in groups:
            problems.append(f"Deployment {deployment} runs group {group!r}, not in the topology")
        problems += probe_problems(deployments[deployment], group)
    for group in groups:
        if group not in group_of.values():
            problems.append(f"worker group {group} has no Deployment")
        elif group not in scaled_group:
            problems.append(f"worker group {group} has no ScaledObject")
    for queue in sorted(queues):
        if not any(queue in groups[group]["queues"] for group in scaled_group):
            problems.append(f"queue {queue} has no autoscaled consumer")
    return problems


@pytest.mark.parametrize("answers", COMBINATIONS, ids=[combo_id(a) for a in COMBINATIONS])
def test_overlays_render_and_pass_kubernetes_and_keda_schemas(bake_quickly, answers):
    project = bake_quickly(**answers)
    for overlay in OVERLAYS:
        docs = render(project, overlay)
        assert not validation_errors(docs), "\n".join(validation_errors(docs))
        assert not literal_secrets(docs), literal_secrets(docs)
        assert not autoscaling_problems(
            topology(answers["queue_topology"]), answers["broker"], docs
        )


@pytest.mark.parametrize("answers", SHAPES, ids=[combo_id(a) for a in SHAPES])
def test_every_queue_of_every_shape_has_an_autoscaled_consumer(bake_quickly, answers):
    docs = render(bake_quickly(**answers), "production")
    problems = autoscaling_problems(topology(answers["queue_topology"]), answers["broker"], docs)
    assert not problems, "\n".join(problems)


def test_checks_catch_a_queue_without_consumer_and_a_group_not_in_the_topology(bake_quickly):
    """The checks above fail on broken manifests (a check that cannot fail proves nothing)."""
    topo = topology("per-domain")
    docs = render(
        bake_quickly(framework="standalone", broker="rabbitmq", queue_topology="per-domain"),
        "production",
    )
    assert not autoscaling_problems(topo, "rabbitmq", docs)

    without_reports = [d for d in docs if d["metadata"]["name"] != "worker-reports"]
    assert "queue reports has no autoscaled consumer" in autoscaling_problems(
        topo, "rabbitmq", without_reports
    )

    renamed = json.loads(json.dumps(docs).replace('"integrations"', '"integration"'))
    assert any("not in the topology" in p for p in autoscaling_problems(topo, "rabbitmq", renamed))

    probe = json.loads(json.dumps(docs).replace('"worker", "reports"]', '"worker", "default"]'))
    assert any("livenessProbe" in p for p in autoscaling_problems(topo, "rabbitmq", probe))

    wrong_list = json.loads(json.dumps(docs).replace('"queueName": "reports"', '"queueName": "r"'))
    assert any("watches ['r']" in p for p in autoscaling_problems(topo, "rabbitmq", wrong_list))

    typo = json.loads(json.dumps(docs).replace("maxReplicaCount", "maxReplicas"))
    assert any("maxReplicas" in error for error in validation_errors(typo))

    leaked = json.loads(json.dumps(docs).replace("$(REDIS_PASSWORD)", "hunter2"))
    assert not literal_secrets(docs)
    assert literal_secrets(
        [*leaked, {"kind": "Pod", "metadata": {"name": "p"}, "x": "amqp://u:hunter2@h/"}]
    )


# Runs in the baked project's environment: publishes through the project's
# Celery app with no worker running, then reads each ScaledObject's triggers
# from the broker and prints {ScaledObject: [depth per trigger]}.
MEASURE = r"""
import json, sys

from {slug} import topology
from {slug}.celery_app import app

spec = json.loads(sys.argv[1])
prefix, per_queue = spec["prefix"], spec["per_queue"]
priorities = list(range(getattr(topology, "MAX_PRIORITY", 0) + 1))
try:
    for queue in topology.QUEUES:
        for n in range(per_queue):
            app.send_task(
                "{slug}.kubernetes.depth_probe",
                queue=prefix + queue,
                priority=priorities[n % len(priorities)],
            )
    depths = {{}}
    with app.connection_for_write() as connection:
        if spec["broker"] == "redis":
            client = connection.default_channel.client
        for name, triggers in spec["scaled_objects"].items():
            depths[name] = []
            for trigger in triggers:
                if spec["broker"] == "redis":
                    db = client.connection_pool.connection_kwargs["db"]
                    assert db == int(trigger["databaseIndex"]), (db, trigger)
                    depths[name].append(client.llen(prefix + trigger["listName"]))
                else:
                    declared = connection.default_channel.queue_declare(
                        prefix + trigger["queueName"], passive=True
                    )
                    depths[name].append(declared.message_count)
    print(json.dumps(depths))
finally:
    with app.connection_for_write() as connection:
        if spec["broker"] == "redis":
            client = connection.default_channel.client
            for pattern in (prefix + "*", "_kombu.binding." + prefix + "*"):
                for key in client.scan_iter(match=pattern):
                    client.delete(key)
        else:
            topology.delete_queues(connection, prefix)
"""

BROKERS = {
    "redis": {"queue_topology": "priority", "url": "redis://127.0.0.1:6379/{db}"},
    "rabbitmq": {
        "queue_topology": "per-domain",
        "url": "amqp://guest:guest@127.0.0.1:5672/{vhost}",
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_scaled_objects_read_the_depth_the_project_published(bake, broker):
    per_queue = 10  # one task of each priority level
    shape = BROKERS[broker]
    result = bake(
        framework="standalone",
        broker=broker,
        queue_topology=shape["queue_topology"],
        project_name=f"Kubernetes depth {broker}",
    )
    assert result.exit_code == 0, result.exception
    project, slug = result.project_path, result.project_path.name
    docs = render(project, "production")
    scaled = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    auth = next(d for d in docs if d["kind"] == "TriggerAuthentication")
    refs = {(r["parameter"], r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    worker = next(d for d in docs if d["kind"] == "Deployment" and launched_group(d))
    env = {e["name"]: e for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    if broker == "rabbitmq":
        # KEDA connects with the workers' own broker URL: the same virtual host.
        ref = env["CELERY_BROKER_URL"]["valueFrom"]["secretKeyRef"]
        assert ("host", ref["name"], ref["key"]) in refs
        url = shape["url"].format(vhost="")
    else:
        # KEDA reads the Redis the workers' broker URL is built from, at the same index.
        for variable, parameter in (("REDIS_ADDRESS", "address"), ("REDIS_PASSWORD", "password")):
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert (parameter, ref["name"], ref["key"]) in refs
        dbs = {
            t["metadata"]["databaseIndex"] for s in scaled.values() for t in s["spec"]["triggers"]
        }
        (db,) = dbs
        assert env["CELERY_BROKER_URL"]["value"].endswith(f"/{db}")
        url = shape["url"].format(db=db)

    spec = {
        "broker": broker,
        "prefix": f"k8s-{uuid.uuid4().hex[:10]}-",
        "per_queue": per_queue,
        "scaled_objects": {
            name: [t["metadata"] for t in s["spec"]["triggers"]] for name, s in scaled.items()
        },
    }
    synced = run([UV, "sync", "--no-dev"], project, timeout=900)
    assert synced.returncode == 0, synced.stderr[-3000:]
    script = project / "measure_depth.py"
    script.write_text(MEASURE.format(slug=slug))
    measured = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), str(script), json.dumps(spec)],
        cwd=project,
        env={
            **project_env(),
            "APP_ENV": "test",
            "CELERY_BROKER_URL": url,
            "CELERY_QUEUE_PREFIX": spec["prefix"],
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert measured.returncode == 0, measured.stderr[-3000:]
    depths = json.loads(measured.stdout.strip().splitlines()[-1])

    topo = topology(shape["queue_topology"])
    for worker_group in topo["workers"]:
        name = worker_group["service"]
        assert sum(depths[name]) == per_queue * len(worker_group["queues"]), (name, depths[name])
    if broker == "redis":
        # Tasks of every priority level were published, so every list held some.
        assert all(depth > 0 for lists in depths.values() for depth in lists), depths
