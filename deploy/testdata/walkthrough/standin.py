"""Stand-ins for the walkthrough test: see README.md. Run as aws, kubectl or
docker (argv[0]'s name) through the small wrappers next to this file."""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid

STATE = os.environ["WALKTHROUGH_STATE"]
REAL_AWS = os.environ["WALKTHROUGH_REAL_AWS"]


def load():
    try:
        with open(STATE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"associations": [], "namespaces": {}}


def save(state):
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1)


def opt(args, name, default=None):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def cli_output(args, value):
    """Prints value as the aws CLI does with --query and --output."""
    import jmespath

    q = opt(args, "--query")
    if q:
        value = jmespath.search(q, value)
    if opt(args, "--output", "json") == "text":
        if value is None:
            print("None")
        elif isinstance(value, list):
            print("\t".join(str(v) for v in value))
        else:
            print(value)
    else:
        print(json.dumps(value, indent=4))


def fail(code, op, message, rc=254):
    sys.stderr.write("\nAn error occurred (%s) when calling the %s operation: %s\n" % (code, op, message))
    sys.exit(rc)


EKS_OPS = {
    "describe-addon": "DescribeAddon",
    "list-pod-identity-associations": "ListPodIdentityAssociations",
    "create-pod-identity-association": "CreatePodIdentityAssociation",
    "describe-pod-identity-association": "DescribePodIdentityAssociation",
    "update-pod-identity-association": "UpdatePodIdentityAssociation",
    "delete-pod-identity-association": "DeletePodIdentityAssociation",
}


def aws(args):
    if len(args) < 2 or args[0] != "eks" or args[1] not in EKS_OPS:
        os.execv(REAL_AWS, [REAL_AWS] + args)
    op, name = args[1], EKS_OPS[args[1]]
    if os.environ.get("WALKTHROUGH_DENY") == op:
        fail("AccessDeniedException", name, "User is not authorized to perform: eks:" + name)
    cluster = opt(args, "--cluster-name")
    # The cluster itself is moto's.
    r = subprocess.run([REAL_AWS, "eks", "describe-cluster", "--name", cluster], capture_output=True, text=True)
    if r.returncode != 0:
        fail("ResourceNotFoundException", name, "No cluster found for name: %s." % cluster)
    state = load()
    if op == "describe-addon":
        addon = opt(args, "--addon-name")
        if addon not in os.environ.get("WALKTHROUGH_ADDONS", "").split(","):
            fail("ResourceNotFoundException", name, "No addon: %s found in cluster: %s" % (addon, cluster))
        return cli_output(args, {"addon": {"addonName": addon, "clusterName": cluster, "status": "ACTIVE"}})
    mine = [a for a in state["associations"] if a["clusterName"] == cluster]
    if op == "list-pod-identity-associations":
        ns, sa = opt(args, "--namespace"), opt(args, "--service-account")
        found = [{k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
                 for a in mine if (ns is None or a["namespace"] == ns) and (sa is None or a["serviceAccount"] == sa)]
        return cli_output(args, {"associations": found})
    if op == "create-pod-identity-association":
        ns, sa = opt(args, "--namespace"), opt(args, "--service-account")
        if any(a["namespace"] == ns and a["serviceAccount"] == sa for a in mine):
            fail("ResourceInUseException", name, "Association already exists")
        aid = "a-" + uuid.uuid4().hex[:17]
        a = {"clusterName": cluster, "namespace": ns, "serviceAccount": sa, "roleArn": opt(args, "--role-arn"),
             "associationId": aid, "associationArn": "arn:aws:eks:region:acct:podidentityassociation/%s/%s" % (cluster, aid),
             "tags": opt(args, "--tags")}
        state["associations"].append(a)
        save(state)
        return cli_output(args, {"association": a})
    aid = opt(args, "--association-id")
    match = [a for a in mine if a["associationId"] == aid]
    if not match:
        fail("ResourceNotFoundException", name, "Association %s not found" % aid)
    if op == "describe-pod-identity-association":
        return cli_output(args, {"association": match[0]})
    if op == "update-pod-identity-association":
        match[0]["roleArn"] = opt(args, "--role-arn")
        save(state)
        return cli_output(args, {"association": match[0]})
    state["associations"].remove(match[0])
    save(state)
    return cli_output(args, {"association": match[0]})


def kubectl(args):
    if os.environ.get("WALKTHROUGH_KUBE_UNREACHABLE") == "1":
        sys.stderr.write("Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout\n")
        sys.exit(1)
    ns = opt(args, "-n", "default")
    rest = [a for i, a in enumerate(args) if a != "-n" and (i == 0 or args[i - 1] != "-n")]
    verb = rest[0]
    state = load()
    spaces = state["namespaces"]

    def need_ns():
        if ns not in spaces:
            sys.stderr.write('Error from server (NotFound): namespaces "%s" not found\n' % ns)
            sys.exit(1)
        return spaces[ns]

    if verb == "apply" and rest[1] == "-f":
        text = open(rest[2]).read()
        name = re.search(r"^kind: Namespace\s*\nmetadata:\s*\n\s+name: (\S+)", text, re.M)
        if not name:
            sys.exit("kubectl stand-in: only a Namespace can be applied with -f")
        spaces.setdefault(name.group(1), {"secrets": {}, "jobs": {}})
        print("namespace/%s configured" % name.group(1))
    elif verb == "apply" and rest[1] == "-k":
        kust = open(os.path.join(rest[2], "kustomization.yaml")).read()
        target = re.search(r"^namespace: (\S+)", kust, re.M).group(1)
        if target not in spaces:
            sys.stderr.write('Error from server (NotFound): namespaces "%s" not found\n' % target)
            sys.exit(1)
        overlay = re.search(r"^resources:\n  - (\S+)", kust, re.M).group(1)
        spaces[target]["jobs"]["uploader"] = {"overlay": os.path.basename(overlay), "kustomization": kust}
        # The Job "runs": one object where the uploader would put it.
        bucket = re.search(r"S3_BUCKET_NAME=(\S+)", kust).group(1)
        prefix = re.search(r"S3_KEY_PREFIX=(\S*)", kust).group(1)
        r = subprocess.run([REAL_AWS, "s3api", "put-object", "--bucket", bucket, "--key", prefix + "standin.jpg"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("kubectl stand-in: the Job's upload failed: " + r.stderr)
        print("job.batch/uploader created")
    elif verb == "delete" and rest[1] == "namespace":
        if rest[2] in spaces:
            del spaces[rest[2]]
        elif "--ignore-not-found" not in args:
            sys.exit('Error from server (NotFound): namespaces "%s" not found' % rest[2])
    elif verb == "delete" and rest[1] in ("job", "secret"):
        kind = rest[1] + "s"
        objs = need_ns()[kind]
        if rest[2] in objs:
            del objs[rest[2]]
        elif "--ignore-not-found" not in args:
            sys.exit('Error from server (NotFound): %s "%s" not found' % (kind, rest[2]))
    elif verb == "get" and rest[1] in ("namespace", "ns"):
        if rest[2] not in spaces:
            sys.exit('Error from server (NotFound): namespaces "%s" not found' % rest[2])
        print(rest[2])
    elif verb == "get" and rest[1] == "secret":
        s = need_ns()["secrets"].get(rest[2])
        if s is None:
            sys.exit('Error from server (NotFound): secrets "%s" not found' % rest[2])
        out = opt(args, "-o", "")
        m = re.fullmatch(r"jsonpath=\{\.data\.(\w+)\}", out)
        if m:
            sys.stdout.write(base64.b64encode(s.get(m.group(1), "").encode()).decode())
        else:
            print(rest[2])
    elif verb == "create" and rest[1] == "secret" and rest[2] == "generic":
        objs = need_ns()["secrets"]
        if rest[3] in objs:
            sys.exit('error: failed to create secret secrets "%s" already exists' % rest[3])
        data = {}
        for line in open(opt(args, "--from-env-file")):
            k, _, v = line.rstrip("\n").partition("=")
            data[k] = v
        objs[rest[3]] = data
        print("secret/%s created" % rest[3])
    elif verb == "wait":
        job = need_ns()["jobs"].get("uploader")
        if job is None:
            sys.exit('Error from server (NotFound): jobs.batch "uploader" not found')
        print("job.batch/uploader condition met")
    elif verb == "logs":
        job = need_ns()["jobs"].get("uploader")
        if job is None:
            sys.exit('Error from server (NotFound): jobs.batch "uploader" not found')
        mode = {"static-keys-job": "static"}.get(job["overlay"], job["overlay"].removesuffix("-job"))
        print(json.dumps({"level": "INFO", "msg": "aws credentials resolved", "mode": mode}, separators=(",", ":")))
    else:
        sys.exit("kubectl stand-in: unsupported call %s" % args)
    save(state)


def docker(args):
    if args[0] == "info":
        return
    if args[0] == "login":
        sys.stdin.read()
        print("Login Succeeded")
        return
    if args[:2] != ["buildx", "build"] or "--push" not in args:
        sys.exit("docker stand-in: unsupported call %s" % args)
    ref = opt(args, "--tag")
    repo_uri, tag = ref.rsplit(":", 1)
    repo = repo_uri.split("/", 1)[1]
    platforms = opt(args, "--platform").split(",")
    manifests = []
    for p in platforms:
        os_, arch = p.split("/")
        digest = "sha256:" + hashlib.sha256((ref + p).encode()).hexdigest()
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1000,
                          "digest": digest, "platform": {"os": os_, "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests})
    r = subprocess.run([REAL_AWS, "ecr", "put-image", "--repository-name", repo, "--image-tag", tag,
                        "--image-manifest", index, "--image-manifest-media-type",
                        "application/vnd.oci.image.index.v1+json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(1)


if __name__ == "__main__":
    {"aws": aws, "kubectl": kubectl, "docker": docker}[sys.argv[1]](sys.argv[2:])
