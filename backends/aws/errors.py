"""boto3/botocore exceptions → Molt's one-line errors, naming the resource and what to do."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from backends.core.errors import (
    AuthError,
    BackendError,
    ConfigError,
    NotFound,
    OperationFailed,
    Throttled,
    Unreachable,
)

DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    }
)
EXPIRED = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
#: error code prefix → where to fix it
MISSING = {
    "InvalidAMIID": "check --image (or image in molt.toml) and the region",
    "InvalidSubnetID": "check subnets in molt.toml and the region",
    "InvalidSubnet": "check subnets in molt.toml and the region",
    "InvalidGroup.NotFound": "check security_groups in molt.toml",
    "InvalidSecurityGroupID": "check security_groups in molt.toml",
    "InvalidVpcID": "check vpc_id in molt.toml",
    "ListenerNotFound": "check listener_arn in molt.toml and the region",
    "LoadBalancerNotFound": "check listener_arn in molt.toml",
    "TargetGroupNotFound": "see `molt status`",
    "InvalidKeyPair": "check key_name in molt.toml",
    "InvalidLaunchTemplate": "see `molt status`",
    "ResourceNotFoundException": "see `molt status`",
}


def translate(error: Exception, what: str, max_attempts: int) -> BackendError:
    """The error an operator sees when AWS refused or failed ``what`` (a short
    description naming the resource, e.g. ``"listener arn:…"``)."""
    if isinstance(error, BackendError):
        return error
    if isinstance(error, ClientError):
        return _client_error(error, what, max_attempts)
    if isinstance(error, ProfileNotFound):
        return ConfigError(f"{error}: fix profile in molt.toml or add it to ~/.aws/config")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AuthError(
            f"no usable AWS credentials for {what}: set AWS_PROFILE or profile in molt.toml, "
            "or run `aws configure` / `aws sso login`"
        )
    if isinstance(error, TokenRetrievalError):
        return AuthError(f"AWS SSO session expired ({what}): run `aws sso login` and retry")
    if isinstance(error, NoRegionError):
        return ConfigError("no AWS region: set region in molt.toml")
    if isinstance(error, BotoConnectionError):
        return Unreachable(
            f"cannot reach AWS for {what}: {error}; check the network (or endpoint_url)"
        )
    if isinstance(error, BotoCoreError):
        return OperationFailed(f"AWS call for {what} failed: {error}")
    return OperationFailed(f"{what} failed: {type(error).__name__}: {error}")


def _client_error(error: ClientError, what: str, max_attempts: int) -> BackendError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = " ".join(str(details.get("Message", "")).split())
    operation = error.operation_name
    if code in DENIED:
        return AuthError(
            f"AWS denied {operation} on {what} ({code}): {message or 'no detail'}; grant it "
            "to this identity (see the minimal IAM policy in the Molt README)"
        )
    if code in EXPIRED:
        return AuthError(
            f"the AWS credentials have expired ({code}) during {operation} on {what}: "
            "refresh them (e.g. `aws sso login`) and retry"
        )
    if code in THROTTLED:
        return Throttled(
            f"AWS kept throttling {operation} on {what} ({code}) after {max_attempts} "
            "attempts: wait a minute and retry, or raise retry.max_attempts in molt.toml"
        )
    for prefix, fix in MISSING.items():
        if code.startswith(prefix):
            return NotFound(f"{what}: not found ({code}: {message}); {fix}")
    return OperationFailed(f"AWS refused {operation} on {what}: {code}: {message}")
