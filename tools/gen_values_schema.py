#!/usr/bin/env python3
"""Generate charts/dubbing/values.schema.json (the committed file is the output of this script).

    python tools/gen_values_schema.py           # rewrite the schema
    python tools/gen_values_schema.py --check   # exit 1 if the committed schema is stale

Written as Python so shared pieces (quantities, URLs, images, tolerations) are defined once.
Helm validates values against draft-07; messages name the value's path.
"""

import argparse
import json
import sys
from pathlib import Path

from dubbing.modelpull.catalogue import CATALOGUE

QTY = r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|[eE][0-9]+)?$"
qty = {
    "type": ["string", "number"],
    "pattern": QTY,
    "minimum": 0,
    "description": "a Kubernetes quantity such as 500m, 2, 1Gi",
}


def obj(props, required=(), desc=None, addl=False):
    o = {"type": "object", "additionalProperties": addl, "properties": props}
    if required:
        o["required"] = list(required)
    if desc:
        o["description"] = desc
    return o


string = {"type": "string"}
boolean = {"type": "boolean"}
anyobj = {"type": "object"}
anyarr = {"type": "array"}
name_ = {
    "type": "string",
    "pattern": "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "maxLength": 63,
    "description": "empty or a DNS label (lower case letters, digits, '-')",
}
pull = {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]}
pull_or_empty = {"type": "string", "enum": ["", "Always", "IfNotPresent", "Never"]}
resources = obj(
    {
        "requests": {"type": "object", "additionalProperties": qty},
        "limits": {"type": "object", "additionalProperties": qty},
    },
    desc="container resources (requests/limits)",
)
image = obj(
    {
        "repository": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "pattern": r"^$|^[\w][\w.-]{0,127}$"},
        "pullPolicy": pull_or_empty,
    },
    required=["repository"],
)
bundled_image = obj(
    {
        "repository": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "minLength": 1, "not": {"const": "latest"}},
        "pullPolicy": pull,
    },
    required=["repository", "tag"],
)
sa = obj({"create": boolean, "name": name_, "annotations": anyobj})
replicas = {"type": "integer", "minimum": 0}
access_modes = {
    "type": "array",
    "minItems": 1,
    "items": {"enum": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]},
}
URL = r"https?://[^\s/:]+(:[0-9]+)?(/\S*)?"
http_url = {"type": "string", "pattern": "^" + URL + "$", "description": "an http:// or https:// URL"}
http_url_or_empty = {
    "type": "string",
    "pattern": "^$|^" + URL + "$",
    "description": "empty, or an http:// or https:// URL",
}
port = {"type": "integer", "minimum": 1, "maximum": 65535}
tolerations = {
    "type": "array",
    "items": obj(
        {
            "key": string,
            "operator": {"enum": ["Exists", "Equal"]},
            "value": string,
            "effect": {"enum": ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]},
            "tolerationSeconds": {"type": "integer"},
        }
    ),
}
workload = dict(
    enabled=boolean,
    replicas=replicas,
    image=image,
    serviceAccount=sa,
    resources=resources,
    nodeSelector={"type": "object", "additionalProperties": string},
    tolerations=tolerations,
    affinity=anyobj,
    podAnnotations={"type": "object", "additionalProperties": string},
    extraEnv={"type": "array", "items": {"type": "object", "required": ["name"]}},
)


database = {
    **obj(
        {
            "mode": {"enum": ["sqlite", "bundled", "external"]},
            "external": obj({"existingSecret": name_, "urlKey": {"type": "string", "minLength": 1}}),
            "bundled": obj(
                {
                    "image": bundled_image,
                    "existingSecret": name_,
                    "persistence": obj({"enabled": boolean, "storageClass": string, "size": qty}),
                    "resources": resources,
                }
            ),
        },
        required=["mode"],
    ),
    "if": {"properties": {"mode": {"const": "external"}}},
    "then": {
        "properties": {
            "external": {
                "required": ["existingSecret"],
                "properties": {
                    "existingSecret": {
                        "type": "string",
                        "minLength": 1,
                        "description": "the Secret holding the postgresql:// URL",
                    }
                },
            }
        },
        "required": ["external"],
    },
}


def persistence():
    return obj({"enabled": boolean, "storageClass": string, "size": qty})


schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Values of the dubbing chart",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "nameOverride": string,
        "fullnameOverride": string,
        "image": obj(
            {"registry": string, "tag": image["properties"]["tag"], "pullPolicy": pull}, required=["pullPolicy"]
        ),
        "imagePullSecrets": {
            "type": "array",
            "items": obj({"name": {"type": "string", "minLength": 1}}, required=["name"]),
        },
        "podSecurityContext": anyobj,
        "containerSecurityContext": anyobj,
        "tmpSizeLimit": qty,
        "operator": {
            **obj(
                dict(
                    workload,
                    replicas=dict(
                        replicas,
                        maximum=5,
                        description="0 stops the operator; more than 1 needs "
                        "leaderElection.enabled (one replica reconciles, the others stand by)",
                    ),
                    watchNamespace=name_,
                    watchAllNamespaces=boolean,
                    verbose=boolean,
                    metricsPort=port,
                    leaderElection=obj(
                        {
                            "enabled": dict(
                                boolean, description="elect one leader through a Lease in the release namespace"
                            ),
                            "leaseDurationSeconds": {"type": "integer", "minimum": 2, "maximum": 300},
                            "renewDeadlineSeconds": {"type": "integer", "minimum": 1, "maximum": 299},
                            "retryPeriodSeconds": {"type": "integer", "minimum": 1, "maximum": 60},
                        }
                    ),
                )
            ),
            "allOf": [
                {
                    "if": {
                        "properties": {
                            "leaderElection": {"properties": {"enabled": {"const": False}}, "required": ["enabled"]}
                        },
                        "required": ["leaderElection"],
                    },
                    "then": {"properties": {"replicas": {"maximum": 1}}},
                }
            ],
        },
        "webui": {
            **obj(
                dict(
                    workload,
                    replicas=dict(
                        replicas,
                        description="0 stops the web UI; more than 1 needs database.mode bundled or external "
                        "(a SQLite store is one file on one Pod's volume)",
                    ),
                    database=database,
                    port=port,
                    jobsNamespace=name_,
                    publicUrl=http_url_or_empty,
                    admin=obj({"username": {"type": "string", "minLength": 1}, "existingSecret": string}),
                    persistence=obj(
                        {
                            "enabled": boolean,
                            "existingClaim": string,
                            "storageClass": string,
                            "size": qty,
                            "accessModes": access_modes,
                        }
                    ),
                    service=obj(
                        {
                            "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                            "port": port,
                            "annotations": anyobj,
                        }
                    ),
                    ingress=obj(
                        {
                            "enabled": boolean,
                            "className": string,
                            "host": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "annotations": anyobj,
                            "tls": obj({"enabled": boolean, "secretName": string}),
                        }
                    ),
                    maxUploadMiB={"type": "integer", "minimum": 1},
                    uploadTransfer={"type": "string", "enum": ["auto", "direct", "proxy"]},
                    quotas=obj(
                        {
                            "storedGiB": {"type": "integer", "minimum": 0},
                            "openUploads": {"type": "integer", "minimum": 0},
                            "activeJobs": {"type": "integer", "minimum": 0},
                        }
                    ),
                    retention=obj(
                        {
                            "uploadDays": {"type": "integer", "minimum": 0, "maximum": 36500},
                            "outputDays": {"type": "integer", "minimum": 0, "maximum": 36500},
                            "cacheDays": {"type": "integer", "minimum": 0, "maximum": 36500},
                        }
                    ),
                    spool=obj(
                        {
                            "sizeMiB": {"type": "integer", "minimum": 64},
                            "perUserMiB": {"type": "integer", "minimum": 5},
                        }
                    ),
                    trustedProxies={
                        "type": "string",
                        "minLength": 1,
                        "description": "comma-separated addresses or CIDRs of trusted reverse proxies, or *",
                    },
                )
            ),
            "allOf": [
                {
                    "if": {
                        "properties": {"database": {"properties": {"mode": {"const": "sqlite"}}}},
                    },
                    "then": {"properties": {"replicas": {"maximum": 1}}},
                }
            ],
        },
        "stages": obj(
            {
                "cpuImage": image,
                "gpuImage": image,
                "timeoutSeconds": {"type": "integer", "minimum": 60},
                "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 10},
                "resources": {
                    "type": "object",
                    "additionalProperties": resources,
                    "propertyNames": {
                        "enum": ["extract", "separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score"]
                    },
                    "description": "per-stage resource overrides, keyed by stage name",
                },
                "memory": {
                    "type": "object",
                    "additionalProperties": obj(
                        {"base": qty, "perMinute": qty}, desc="memory of the stage's Pod: base + perMinute × minutes"
                    ),
                    "propertyNames": {
                        "enum": ["separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score"]
                    },
                    "description": "per-stage memory lines (extract runs before the input's length is known)",
                },
                "memoryMax": qty,
                "extraEnv": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "description": "extra environment of every stage Pod, name to value",
                },
            }
        ),
        "gpu": obj(
            {
                "resourceName": {
                    "type": "string",
                    "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$",
                    "description": "an extended resource name such as nvidia.com/gpu",
                },
                "count": {"type": "integer", "minimum": 0, "maximum": 16, "description": "GPUs per GPU stage Pod"},
                "tolerations": tolerations,
                "nodeSelector": {"type": "object", "additionalProperties": string},
            }
        ),
        "queue": obj(
            {"maxGpuJobs": {"type": "integer", "minimum": 1}, "maxJobsPerUser": {"type": "integer", "minimum": 1}}
        ),
        "modelCache": obj(
            {
                "enabled": boolean,
                "existingClaim": string,
                "storageClass": string,
                "size": qty,
                "accessModes": access_modes,
                "hostPath": {"type": "string", "pattern": "^$|^/"},
            }
        ),
        "modelPull": obj(
            {
                "enabled": boolean,
                "models": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"enum": [entry.name for entry in CATALOGUE]},
                    "description": "names from the model catalogue (dubbing models catalogue)",
                },
                "endpoint": {"type": "string", "pattern": "^$|^https?://"},
                "tokenSecret": string,
                "tokenKey": {"type": "string", "minLength": 1},
                "allowUnpinned": boolean,
                "backoffLimit": {"type": "integer", "minimum": 0, "maximum": 20},
                "activeDeadlineSeconds": {"type": "integer", "minimum": 0},
                "resources": resources,
            }
        ),
        "minio": {
            **obj(
                {
                    "mode": {"enum": ["bundled", "external"]},
                    "bucket": {
                        "type": "string",
                        "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                        "description": "an S3 bucket name",
                    },
                    "region": string,
                    "scopedCredentials": boolean,
                    "publicUrl": http_url_or_empty,
                    "auth": obj(
                        {"existingSecret": string, "accessKey": {"type": "string", "minLength": 3}, "secretKey": string}
                    ),
                    "external": obj({"endpoint": http_url_or_empty}),
                    "bundled": obj({"image": bundled_image, "persistence": persistence(), "resources": resources}),
                },
                required=["mode", "bucket"],
            ),
            "if": {"properties": {"mode": {"const": "external"}}},
            "then": {
                "properties": {"external": {"required": ["endpoint"], "properties": {"endpoint": http_url}}},
                "required": ["external"],
            },
        },
        "admissionPolicy": obj(
            {
                "enabled": boolean,
                "trustedUsers": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "allowUrlInputs": boolean,
            }
        ),
        "networkPolicy": obj(
            {
                "enabled": boolean,
                "objectStoreCIDRs": {
                    "type": "array",
                    "items": {"type": "string", "pattern": r"^[0-9a-fA-F.:]+/[0-9]{1,3}$"},
                },
            }
        ),
        "redis": {
            **obj(
                {
                    "mode": {"enum": ["bundled", "external"]},
                    "external": obj({"url": {"type": "string", "pattern": r"^$|^rediss?://\S+$"}}),
                    "bundled": obj({"image": bundled_image, "persistence": persistence(), "resources": resources}),
                },
                required=["mode"],
            ),
            "if": {"properties": {"mode": {"const": "external"}}},
            "then": {
                "properties": {
                    "external": {
                        "required": ["url"],
                        "properties": {
                            "url": {
                                "type": "string",
                                "pattern": r"^rediss?://\S+$",
                                "description": "a redis:// or rediss:// URL",
                            }
                        },
                    }
                },
                "required": ["external"],
            },
        },
        "llm": obj(
            {
                "endpoint": dict(
                    http_url_or_empty,
                    description="the llm translate backend's OpenAI-compatible server, http(s)://host[:port][/v1]; empty = off",
                ),
                "model": {"type": "string", "maxLength": 128},
                "apiKeySecret": dict(name_, description="Secret in each job's namespace holding the API key"),
                "apiKeySecretKey": {"type": "string", "minLength": 1},
            }
        ),
        "ntfy": obj(
            {
                "url": dict(
                    http_url_or_empty, description="the ntfy server, http(s)://host[:port]; empty = notifications off"
                ),
                "token": string,
                "existingSecret": string,
                "tokenKey": {"type": "string", "minLength": 1},
                "defaultTopic": {"type": "string", "pattern": "^[-_A-Za-z0-9]{1,64}$"},
            }
        ),
        "metrics": obj(
            {
                "serviceMonitor": obj(
                    {
                        "enabled": boolean,
                        "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        "labels": {"type": "object", "additionalProperties": string},
                    }
                )
            }
        ),
    },
}

TARGET = Path(__file__).resolve().parents[1] / "charts" / "dubbing" / "values.schema.json"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    text = json.dumps(schema, indent=2) + "\n"
    if parser.parse_args().check:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python tools/gen_values_schema.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
