"""Prints, as one JSON document, everything of the emulated account the
walkthrough may create or change (one process: the aws CLI takes a second a
call). Used by deploy/walkthrough_test.go through the real AWS API (boto3
against moto_server); the test's region and endpoint come from the
environment."""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

PREFIX, NODE_ROLE, USER, REPO = "uploader-demo", sys.argv[1], "uploader-demo-static", "uploader-demo/uploader"
region = os.environ["AWS_REGION"]
iam, s3, ecr, ec2 = (boto3.client(s, region_name=region) for s in ("iam", "s3", "ecr", "ec2"))


def call(fn, **kw):
    try:
        return fn(**kw)
    except ClientError as e:
        return {"error": e.response["Error"]["Code"]}


out = {"roles": {}, "users": {}, "policies": {}, "buckets": {}, "repositories": {}}
for r in iam.list_roles()["Roles"]:
    name = r["RoleName"]
    if name.startswith(PREFIX) or name == NODE_ROLE:
        out["roles"][name] = {
            "trust": r["AssumeRolePolicyDocument"],
            "attached": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
        }
for u in iam.list_users()["Users"]:
    name = u["UserName"]
    if name.startswith(PREFIX):
        out["users"][name] = {
            "keys": sorted(k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]),
            "attached": sorted(p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]),
        }
for p in iam.list_policies(Scope="Local")["Policies"]:
    if p["PolicyName"].startswith(PREFIX):
        versions = iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]
        out["policies"][p["Arn"]] = {
            "default": p["DefaultVersionId"],
            "versions": sorted(v["VersionId"] for v in versions),
            "document": iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"],
        }
for b in s3.list_buckets()["Buckets"]:
    name = b["Name"]
    out["buckets"][name] = {
        "tags": call(s3.get_bucket_tagging, Bucket=name).get("TagSet"),
        "public_access_block": call(s3.get_public_access_block, Bucket=name).get("PublicAccessBlockConfiguration"),
        "lifecycle": call(s3.get_bucket_lifecycle_configuration, Bucket=name).get("Rules"),
        "keys": sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])),
    }
for r in ecr.describe_repositories()["repositories"]:
    name = r["repositoryName"]
    images = ecr.describe_images(repositoryName=name)["imageDetails"]
    out["repositories"][name] = {
        "uri": r["repositoryUri"],
        "mutability": r["imageTagMutability"],
        "scan_on_push": r["imageScanningConfiguration"]["scanOnPush"],
        "tags": ecr.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"],
        "images": sorted(
            [
                {
                    "digest": i["imageDigest"],
                    "tags": i.get("imageTags", []),
                    "manifest": json.loads(
                        ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": i["imageDigest"]}])["images"][0][
                            "imageManifest"
                        ]
                    ),
                }
                for i in images
            ],
            key=lambda i: i["digest"],
        ),
    }
out["instances"] = [
    i["MetadataOptions"] for res in ec2.describe_instances()["Reservations"] for i in res["Instances"]
]
for o in out["instances"]:
    o.pop("State", None)
json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
