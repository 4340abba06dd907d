"""The CloudFormation template of the AWS resources Encore runs on, built from its settings.

One stack holds what the `aws` profile's adapters expect to find:

    LakeBucket           S3 lake (raw/, curated/, quarantine/, models/), encrypted, private, with
                         the tiering rules of `pipelines.lake.lifecycle` (7.5)
    CatalogDatabase      Glue database of the curated datasets (`encore aws sync --catalog`)
    EventsStream         Kinesis stream of `encore stream produce|consume` (on demand)
    RedshiftNamespace,   Redshift Serverless warehouse (`encore aws sync --warehouse`), unless
    RedshiftWorkgroup    ENCORE_REDSHIFT_CLUSTER_ID names a provisioned cluster to use instead
    UserPool, ...Client, Cognito users of the REST API and UI (ENCORE_AUTH=cognito), one group
    ...Group per role    per role of the query policy
    AlertsTopic          SNS topic CloudWatch alarms notify
    *Role                IAM roles of the Glue job, SageMaker, Redshift's COPY and the AgentCore
                         runtime, each allowed the least it needs of this stack's resources

Every output names the ENCORE_ setting it fills (see `stack.deploy.settings_from_outputs`).
The template is built with troposphere, so property names are checked as it is built, and the
tests run cfn-lint over it against CloudFormation's own resource specification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from troposphere import (
    AccountId,
    GetAtt,
    Output,
    Ref,
    Region,
    Sub,
    Tags,
    Template,
    cognito,
    glue,
    iam,
    kinesis,
    redshiftserverless,
    s3,
    sns,
)

from core.errors import ConfigError
from core.settings import Settings
from pipelines.lake.lifecycle import lifecycle_rules
from pipelines.lake.tiering import TierPolicy

DEFAULT_STREAM: Final = "events"
"""The stream `encore stream produce|consume` use unless told otherwise."""

_GLUE_CATALOG_ACTIONS: Final = [
    "glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
    "glue:GetPartitions", "glue:BatchCreatePartition",
]  # fmt: skip
_SAGEMAKER_ACTIONS: Final = [
    "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
]  # fmt: skip
_STREAM_ACTIONS: Final = [
    "kinesis:PutRecords", "kinesis:GetRecords", "kinesis:GetShardIterator",
    "kinesis:DescribeStreamSummary", "kinesis:ListShards",
]  # fmt: skip
_AGENT_ACTIONS: Final = [
    "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock-agentcore:*",
    "sagemaker:InvokeEndpoint", "redshift-data:*", "redshift-serverless:GetCredentials",
    "athena:*", "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions",
    "cloudwatch:PutMetricData", "logs:CreateLogGroup", "logs:CreateLogStream",
    "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
]  # fmt: skip
"""What the runtime's tools call: models, memory, code interpreter and browser, the warehouse
and lake engines, forecasts, metrics and traces."""


@dataclass(frozen=True)
class StackSpec:
    """What the template is built from; `from_settings` fills it from ENCORE_ settings."""

    lake_bucket: str
    glue_database: str
    stream: str
    redshift: bool
    """Whether the stack creates a Redshift Serverless warehouse (no provisioned cluster set)."""
    redshift_database: str
    roles: tuple[str, ...]
    """The query policy's roles: a Cognito group each."""
    tiers: TierPolicy

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        roles: Iterable[str],
        *,
        stream: str = DEFAULT_STREAM,
        tiers: TierPolicy | None = None,
    ) -> StackSpec:
        if not settings.lake_bucket:
            raise ConfigError(
                "the stack needs a lake bucket name: set ENCORE_LAKE_BUCKET "
                "(S3 bucket names are global, e.g. encore-lake-<account id>)"
            )
        return cls(
            lake_bucket=settings.lake_bucket,
            glue_database=settings.glue_database,
            stream=stream,
            redshift=settings.redshift_cluster_id is None,
            redshift_database=settings.redshift_database,
            roles=tuple(sorted(roles)),
            tiers=tiers or TierPolicy(),
        )


def build_template(spec: StackSpec) -> Template:
    """The stack's template; `to_yaml()` / `to_json()` give what CloudFormation reads."""
    template = Template(
        Description="Encore concert intelligence: lake, catalog, stream, warehouse, auth, "
        "alerts and the IAM roles of its AWS adapters"
    )
    tags = Tags(application="encore")
    try:
        bucket = template.add_resource(_lake_bucket(spec, tags))
    except ValueError as exc:  # troposphere checks the name as S3 would
        raise ConfigError(
            f"ENCORE_LAKE_BUCKET={spec.lake_bucket!r} is not a valid S3 bucket name "
            "(3-63 characters: lowercase letters, digits, dots and hyphens)"
        ) from exc
    bucket_arn, objects_arn = GetAtt(bucket, "Arn"), Sub("${LakeBucket.Arn}/*")
    template.add_resource(
        glue.Database(
            "CatalogDatabase",
            CatalogId=AccountId,
            DatabaseInput=glue.DatabaseInput(
                Name=spec.glue_database,
                Description="Encore's curated lake datasets",
                LocationUri=Sub("s3://${LakeBucket}/curated/"),
            ),
        )
    )
    stream = template.add_resource(
        kinesis.Stream(
            "EventsStream",
            Name=spec.stream,
            StreamModeDetails=kinesis.StreamModeDetails(StreamMode="ON_DEMAND"),
            StreamEncryption=kinesis.StreamEncryption(
                EncryptionType="KMS", KeyId="alias/aws/kinesis"
            ),
            RetentionPeriodHours=24,
            Tags=tags,
        )
    )
    topic = template.add_resource(sns.Topic("AlertsTopic", TopicName="encore-alerts", Tags=tags))
    catalog_arns = [
        Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"),
        Sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:database/{spec.glue_database}"),
        Sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:table/{spec.glue_database}/*"),
    ]  # fmt: skip
    glue_role = template.add_resource(
        _role(
            "GlueJobRole",
            "glue.amazonaws.com",
            [
                _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [objects_arn]),
                _allow(["s3:ListBucket"], [bucket_arn]),
                _allow(_GLUE_CATALOG_ACTIONS, catalog_arns),
            ],
            managed=["arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"],
            tags=tags,
        )
    )
    sagemaker_role = template.add_resource(
        _role(
            "SageMakerExecutionRole",
            "sagemaker.amazonaws.com",
            [
                _allow(["s3:GetObject"], [Sub("${LakeBucket.Arn}/models/*")]),
                _allow(_SAGEMAKER_ACTIONS, ["*"]),
            ],
            tags=tags,
        )
    )
    redshift_role = template.add_resource(
        _role(
            "RedshiftCopyRole",
            "redshift.amazonaws.com",
            [
                _allow(["s3:GetObject"], [Sub("${LakeBucket.Arn}/curated/*")]),
                _allow(["s3:ListBucket"], [bucket_arn]),
            ],
            tags=tags,
        )
    )
    agent_role = template.add_resource(
        _role(
            "AgentRuntimeRole",
            "bedrock-agentcore.amazonaws.com",
            [
                _allow(["s3:GetObject", "s3:PutObject"], [objects_arn]),
                _allow(["s3:ListBucket"], [bucket_arn]),
                _allow(_STREAM_ACTIONS, [GetAtt(stream, "Arn")]),
                _allow(_AGENT_ACTIONS, ["*"]),
                _allow(["sns:Publish"], [Ref(topic)]),
            ],
            tags=tags,
        )
    )
    outputs: dict[str, tuple[Any, str]] = {
        "LakeBucketName": (Ref(bucket), "ENCORE_LAKE_BUCKET"),
        "GlueDatabaseName": (spec.glue_database, "ENCORE_GLUE_DATABASE"),
        "EventsStreamName": (Ref(stream), "the stream name of encore stream produce|consume"),
        "AlertsTopicArn": (Ref(topic), "SNS topic for CloudWatch alarm actions"),
        "GlueJobRoleArn": (GetAtt(glue_role, "Arn"), "--role of encore aws etl deploy"),
        "SageMakerExecutionRoleArn": (
            GetAtt(sagemaker_role, "Arn"),
            "ENCORE_SAGEMAKER_EXECUTION_ROLE",
        ),
        "RedshiftIamRoleArn": (GetAtt(redshift_role, "Arn"), "ENCORE_REDSHIFT_IAM_ROLE"),
        "AgentRuntimeRoleArn": (GetAtt(agent_role, "Arn"), "execution_role in agentcore.yaml"),
        "Region": (Region, "ENCORE_AWS_REGION"),
    }
    if spec.redshift:
        outputs["RedshiftWorkgroupName"] = (
            Ref(_redshift(template, spec, redshift_role, tags)),
            "ENCORE_REDSHIFT_WORKGROUP",
        )
    pool, client = _cognito(template, spec)
    outputs["CognitoUserPoolId"] = (Ref(pool), "ENCORE_COGNITO_USER_POOL_ID")
    outputs["CognitoAppClientId"] = (Ref(client), "ENCORE_COGNITO_APP_CLIENT_ID")
    for name, (value, setting) in outputs.items():
        template.add_output(Output(name, Value=value, Description=setting))
    return template


def _lake_bucket(spec: StackSpec, tags: Tags) -> s3.Bucket:
    return s3.Bucket(
        "LakeBucket",
        BucketName=spec.lake_bucket,
        DeletionPolicy="Retain",  # the lake outlives the stack: deleting it would lose data
        UpdateReplacePolicy="Retain",
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    )
                )
            ]
        ),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[_lifecycle_rule(rule) for rule in lifecycle_rules(spec.tiers)]
        ),
        Tags=tags,
    )


def _lifecycle_rule(rule: dict[str, Any]) -> s3.LifecycleRule:
    """An S3 API lifecycle rule (what `encore lake tier --aws` applies) in CloudFormation's form."""
    props: dict[str, Any] = {"Id": rule["ID"], "Status": rule["Status"]}
    if prefix := rule.get("Filter", {}).get("Prefix"):
        props["Prefix"] = prefix
    if transitions := rule.get("Transitions"):
        props["Transitions"] = [
            s3.LifecycleRuleTransition(StorageClass=t["StorageClass"], TransitionInDays=t["Days"])
            for t in transitions
        ]
    if expiration := rule.get("Expiration"):
        props["ExpirationInDays"] = expiration["Days"]
    if abort := rule.get("AbortIncompleteMultipartUpload"):
        props["AbortIncompleteMultipartUpload"] = s3.AbortIncompleteMultipartUpload(
            DaysAfterInitiation=abort["DaysAfterInitiation"]
        )
    return s3.LifecycleRule(**props)


def _redshift(
    template: Template, spec: StackSpec, copy_role: iam.Role, tags: Tags
) -> redshiftserverless.Workgroup:
    namespace = template.add_resource(
        redshiftserverless.Namespace(
            "RedshiftNamespace",
            NamespaceName="encore",
            DbName=spec.redshift_database,
            ManageAdminPassword=True,  # the password lives in Secrets Manager, never here
            IamRoles=[GetAtt(copy_role, "Arn")],
            DefaultIamRoleArn=GetAtt(copy_role, "Arn"),
            Tags=tags,
        )
    )
    return template.add_resource(
        redshiftserverless.Workgroup(
            "RedshiftWorkgroup",
            WorkgroupName="encore",
            NamespaceName=Ref(namespace),
            BaseCapacity=8,  # the smallest: Encore's warehouse is small; raise it in the console
            PubliclyAccessible=False,
            Tags=tags,
        )
    )


def _cognito(
    template: Template, spec: StackSpec
) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
    pool = template.add_resource(
        cognito.UserPool(
            "UserPool",
            UserPoolName="encore-users",
            AdminCreateUserConfig=cognito.AdminCreateUserConfig(AllowAdminCreateUserOnly=True),
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            Policies=cognito.Policies(
                PasswordPolicy=cognito.PasswordPolicy(
                    MinimumLength=12,
                    RequireLowercase=True,
                    RequireUppercase=True,
                    RequireNumbers=True,
                    RequireSymbols=False,
                )
            ),
            MfaConfiguration="OPTIONAL",
            EnabledMfas=["SOFTWARE_TOKEN_MFA"],
            UserPoolTags={"application": "encore"},
        )
    )
    client = template.add_resource(
        cognito.UserPoolClient(
            "UserPoolAppClient",
            ClientName="encore",
            UserPoolId=Ref(pool),
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            AccessTokenValidity=15,
            IdTokenValidity=15,
            RefreshTokenValidity=1,
            TokenValidityUnits=cognito.TokenValidityUnits(
                AccessToken="minutes", IdToken="minutes", RefreshToken="days"
            ),
        )
    )
    for precedence, role in enumerate(spec.roles):
        # a group named like a query-policy role is that role (ENCORE_COGNITO_GROUP_ROLES)
        template.add_resource(
            cognito.UserPoolGroup(
                f"{_logical(role)}Group",
                GroupName=role,
                UserPoolId=Ref(pool),
                Precedence=precedence,
                Description=f"Encore's {role} role",
            )
        )
    return pool, client


def _role(
    name: str,
    service: str,
    statements: list[dict[str, Any]],
    *,
    managed: list[str] | None = None,
    tags: Tags,
) -> iam.Role:
    return iam.Role(
        name,
        AssumeRolePolicyDocument={
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        },
        Policies=[
            iam.Policy(
                PolicyName=f"encore-{_logical(name)}",
                PolicyDocument={"Version": "2012-10-17", "Statement": statements},
            )
        ],
        ManagedPolicyArns=managed or [],
        Tags=tags,
    )


def _allow(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _logical(name: str) -> str:
    """A CloudFormation logical id piece from a name: letters and digits, capitalised."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)
