"""Starts moto's server (same arguments as `moto_server`) with its DynamoDB backend serialised.

moto applies a TransactWriteItems and, when one of its conditions fails, restores a copy of every
table it touched taken before the transaction began. Its server handles requests on threads, so
that restore can silently undo writes other requests committed in the meantime, which DynamoDB,
whose transactions are serialisable, never does. Holding one lock around every DynamoDB backend
call makes each request, transactions included, atomic with respect to the others. DynamoDB
requests are short; SQS long polls and the other services are not affected.
"""

import functools
import inspect
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return call


for _name, _method in inspect.getmembers(DynamoDBBackend, predicate=inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    main(sys.argv[1:])
