"""A moto CloudFront whose CreateInvalidation is as strict as the real one.

moto takes any invalidation: paths that real CloudFront refuses, and a
CallerReference used twice, each time making a new invalidation. install()
replaces moto's CloudFrontBackend.create_invalidation, in this process, with
one that checks the request as CloudFront does. The moto server of the tests
runs in a thread of this process, so every client that talks to it over HTTP
(boto3, the AWS CLI, lambda_function's own client) gets the strict behaviour,
and refusals come back as CloudFront's error XML with the model's HTTP status.

What is checked, in this order (the first failure answers):

  * NoSuchDistribution (404) for an unknown distribution, as moto does.
  * More than MAX_PATHS (3,000) paths: BatchTooLarge, 413.
  * An empty batch, or any path that CloudFront would refuse: InvalidArgument,
    400, "Your request contains one or more invalid invalidation paths."
    A path is refused when it does not start with "/"; is longer than 4,000
    characters; holds a raw RFC 1738 unsafe character (space " < > # { } | \\
    ^ ~ [ ] `), a control character or a non-ASCII character; holds "*"
    anywhere but at its end; or holds "%" not followed by two hex digits.
    A path given to refuse() is refused the same way.
  * More than MAX_WILDCARDS (15) paths ending in "*": InvalidArgument, 400,
    WILDCARD_MESSAGE. Real CloudFront counts the wildcard paths *in progress*
    on the distribution and answers TooManyInvalidationsInProgress (400,
    retryable). moto completes invalidations at once, so only the request's
    own wildcards can count here, and a non-retryable code is used so that a
    function retrying TooManyInvalidationsInProgress fails the test at once
    instead of backing off until its deadline.
  * CallerReference: the same reference with the same set of paths on the
    same distribution returns the invalidation made before (201, same Id,
    nothing new made); with another set of paths, InvalidationBatchAlreadyExists
    (409). Path order and repeats do not matter, as for a set.

API, for tests:

  install()          patch moto (idempotent); conftest calls it in pytest_configure.
  refuse(*paths)     refuse, from now on, any request containing one of *paths*
                     (exact strings, as sent) with the invalid-paths error.
  reset()            forget refused paths and the request log (conftest's autouse
                     fixture calls it before each test; moto's own reset clears
                     the invalidations themselves).
  requests()         every CreateInvalidation received since reset(), oldest first,
                     as Request tuples: distribution_id, caller_reference, paths
                     (a tuple, as sent), accepted (bool), outcome ("created",
                     "existing", or the error code), invalidation_id (or None).
  created_paths(distribution_id=None)
                     the set of paths of every accepted request (of one distribution).
  INVALID_PATHS_MESSAGE, WILDCARD_MESSAGE, ALREADY_EXISTS_MESSAGE, MAX_PATHS,
  MAX_PATH_LENGTH, MAX_WILDCARDS: the limits and messages, for assertions.
  invalid_path_reason(path): why a path is refused, or None (for tests of this module).
"""

import os
import re
import threading
from typing import NamedTuple

from moto.cloudfront import models as cf_models
from moto.cloudfront.exceptions import CloudFrontException
from moto.core import serialize as moto_serialize
from moto.core.errors import ErrorShape

MAX_PATHS = 3000
MAX_PATH_LENGTH = 4000
MAX_WILDCARDS = 15

INVALID_PATHS_MESSAGE = "Your request contains one or more invalid invalidation paths."
WILDCARD_MESSAGE = (f"Your request contains more than {MAX_WILDCARDS} wildcard invalidation paths "
                    "(test server: real CloudFront answers TooManyInvalidationsInProgress).")
ALREADY_EXISTS_MESSAGE = "The CallerReference you attempted to use is already in use."
BATCH_TOO_LARGE_MESSAGE = f"Your request contains more than {MAX_PATHS} invalidation paths."

# RFC 1738's unsafe characters, less "%" (checked on its own): these must be
# percent-encoded in an invalidation path.
_UNSAFE = frozenset(' "<>#{}|\\^~[]`')
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Request(NamedTuple):
    distribution_id: str
    caller_reference: str
    paths: tuple
    accepted: bool
    outcome: str             # "created", "existing", or the error code
    invalidation_id: str | None


class InvalidArgument(CloudFrontException):
    def __init__(self, message=INVALID_PATHS_MESSAGE):
        super().__init__("InvalidArgument", message)


class BatchTooLarge(CloudFrontException):
    def __init__(self):
        super().__init__("BatchTooLarge", BATCH_TOO_LARGE_MESSAGE)


class InvalidationBatchAlreadyExists(CloudFrontException):
    # botocore's CloudFront model has no such error shape (CloudFront's docs
    # name the error, not its status), so moto would answer 400 and warn:
    # _error_model() gives it this shape, with 409 Conflict.
    SHAPE = ErrorShape("InvalidationBatchAlreadyExists", {
        "exception": True, "type": "structure", "members": {},
        "error": {"code": "InvalidationBatchAlreadyExists", "httpStatusCode": 409, "senderFault": True}})

    def __init__(self):
        super().__init__("InvalidationBatchAlreadyExists", ALREADY_EXISTS_MESSAGE)


_lock = threading.Lock()
_refused: set = set()
_log: list = []
_original = None
_original_error_model = None


def invalid_path_reason(path):
    """Return why CloudFront refuses the invalidation *path*, or None."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "does not start with /"
    if len(path) > MAX_PATH_LENGTH:
        return f"longer than {MAX_PATH_LENGTH} characters"
    for char in path:
        if char in _UNSAFE:
            return f"raw unsafe character {char!r}"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"control character {char!r}"
        if ord(char) > 0x7F:
            return f"non-ASCII character {char!r}"
    if "*" in path[:-1]:
        return "* not at the end"
    if _BAD_PERCENT.search(path):
        return "% not followed by two hex digits"
    return None


def _check(paths):
    """Raise the error CloudFront gives for the batch *paths*, if any."""
    if len(paths) > MAX_PATHS:
        raise BatchTooLarge()
    if not paths:
        raise InvalidArgument()
    with _lock:
        refused = set(_refused)
    for path in paths:
        if path in refused or invalid_path_reason(path):
            raise InvalidArgument()
    if sum(path.endswith("*") for path in paths) > MAX_WILDCARDS:
        raise InvalidArgument(WILDCARD_MESSAGE)


def _strict_create_invalidation(self, dist_id, paths, caller_ref):
    paths = list(paths or [])
    self.get_distribution(dist_id)   # NoSuchDistribution first, as moto does

    def log(accepted, outcome, invalidation_id=None):
        with _lock:
            _log.append(Request(dist_id, caller_ref, tuple(paths), accepted, outcome, invalidation_id))

    try:
        _check(paths)
        for earlier in self.invalidations.get(dist_id, ()):
            if earlier.caller_ref == caller_ref:
                if set(earlier.paths) != set(paths):
                    raise InvalidationBatchAlreadyExists()
                log(True, "existing", earlier.id)
                return earlier
    except CloudFrontException as error:
        log(False, error.code)
        raise
    invalidation = _original(self, dist_id, paths, caller_ref)
    log(True, "created", invalidation.id)
    return invalidation


def _error_model(error, service_model):
    if isinstance(error, InvalidationBatchAlreadyExists):
        return InvalidationBatchAlreadyExists.SHAPE
    return _original_error_model(error, service_model)


def install():
    """Make moto's CreateInvalidation strict, in this process. Idempotent."""
    global _original, _original_error_model
    if _original is None:
        _original = cf_models.CloudFrontBackend.create_invalidation
        cf_models.CloudFrontBackend.create_invalidation = _strict_create_invalidation
        _original_error_model = moto_serialize.get_error_model
        moto_serialize.get_error_model = _error_model


def serve():
    """Start moto's server on 127.0.0.1 with this strict CloudFront, with fake credentials.

    Return the server; AWS_ENDPOINT_URL_CLOUDFRONT points at it.
    """
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = f"http://{host}:{port}"
    return server


def uninstall():
    """Give moto back its own CreateInvalidation."""
    global _original, _original_error_model
    if _original is not None:
        cf_models.CloudFrontBackend.create_invalidation = _original
        moto_serialize.get_error_model = _original_error_model
        _original = _original_error_model = None


def refuse(*paths):
    """Refuse any later request that contains one of *paths* (exact strings)."""
    with _lock:
        _refused.update(paths)


def reset():
    """Forget the refused paths and the request log."""
    with _lock:
        _refused.clear()
        _log.clear()


def requests():
    """Return every CreateInvalidation received since reset(), oldest first."""
    with _lock:
        return list(_log)


def created_paths(distribution_id=None):
    """Return the set of paths of every accepted request (on *distribution_id*)."""
    return {path for request in requests() if request.accepted
            and distribution_id in (None, request.distribution_id) for path in request.paths}
