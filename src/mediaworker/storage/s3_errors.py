"""S3 failures mapped to our errors, at the S3 adapter's boundary (storage/s3.py).

- an S3 error code of a missing key (NOT_FOUND_CODES): NotFoundError (NOT_FOUND);
- one of a missing bucket, refused access, bad or expired credentials, a wrong region
  (NOT_CONFIGURED_CODES), no usable credentials, an endpoint or region botocore cannot use:
  NotConfiguredError (NOT_CONFIGURED, not retried);
- any other S3 error code, an unreachable endpoint, a timeout, an aiohttp or disk error:
  StorageError (STORAGE, retried).

Messages name the operation and the key (shortened), never a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from botocore.exceptions import (
    BaseEndpointResolverError,
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    EndpointProviderError,
    InvalidEndpointConfigurationError,
    InvalidRegionError,
    NoCredentialsError,
    PartialCredentialsError,
    UnsupportedS3ConfigurationError,
)

from mediaworker.errors import (
    MediaWorkerError,
    NotConfiguredError,
    NotFoundError,
    StorageError,
)
from mediaworker.storage.base import shown_key

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
BUCKET_MISSING_CODES = frozenset({"NoSuchBucket", "NotFound", "404"})
NOT_CONFIGURED_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "AllAccessDisabled",
        "Forbidden",
        "403",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "301",
        "AccountProblem",
    }
)
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError)
_NO_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_BAD_SETUP = (
    EndpointProviderError,
    BaseEndpointResolverError,
    InvalidRegionError,
    InvalidEndpointConfigurationError,
    UnsupportedS3ConfigurationError,
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or "Unknown"


def translate_error(exc: BaseException, op: str, key: str) -> MediaWorkerError:
    """Our error for anything botocore, aiohttp or the disk raised during `op` on `key`."""
    shown = shown_key(key)
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in NOT_FOUND_CODES:
            return NotFoundError(f"storage key {shown} not found")
        if code in NOT_CONFIGURED_CODES:
            return NotConfiguredError(
                f"S3 {op} {shown} refused ({code}): check the bucket, region and credentials"
            )
        return StorageError(f"S3 {op} {shown} failed: {code}")
    if isinstance(exc, _NO_CREDENTIALS):
        return NotConfiguredError(
            "no usable S3 credentials: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
            "or configure the AWS default credential chain"
        )
    if isinstance(exc, _BAD_SETUP):
        return NotConfiguredError(
            f"S3 endpoint or region is not valid ({type(exc).__name__}): "
            "check S3_ENDPOINT_URL and S3_REGION"
        )
    if isinstance(exc, _UNREACHABLE):
        return StorageError(f"S3 {op} {shown} failed: endpoint unreachable")
    return StorageError(f"S3 {op} {shown} failed: {type(exc).__name__}")


@contextmanager
def translated(op: str, key: str) -> Iterator[None]:
    try:
        yield
    except MediaWorkerError:
        raise
    except (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise translate_error(exc, op, key) from exc
