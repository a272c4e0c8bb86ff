"""moto's server, as the local stack starts it, with one change to DynamoDB transactions.

moto backs every TransactWriteItems up with a deep copy of each table it names, used only to
roll back if the transaction fails. That copy costs time in proportion to the whole table, so
a burst slows down as the table grows and measures moto rather than the function. Here, a
transaction made only of Puts, Deletes and ConditionChecks is backed up with a structural
snapshot instead: the table's partition dicts are copied and the items shared. Puts and
Deletes replace or remove items and never change one in place, so rolling back to the
snapshot restores exactly what the deep copy would. A transaction with an Update (which
changes items in place) keeps moto's deep copy. Nothing else is changed.

Usage: python3 local/moto_server.py PORT        (local/aws.sh starts it)
"""

import copy
import sys
import threading
from collections import defaultdict

from moto.dynamodb import models
from moto.dynamodb.models.table import Table
from moto.server import main

SNAPSHOT_SAFE = ("Put", "Delete", "ConditionCheck")
_transaction = threading.local()


def snapshot(table):
    clone = copy.copy(table)
    clone.items = defaultdict(dict)
    for key, value in table.items.items():
        clone.items[key] = dict(value) if table.has_range_key else value
    return clone


class CopyForTransactions:
    """Stands in for the `copy` module inside moto.dynamodb.models."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table) and getattr(_transaction, "snapshot_safe", False):
            return snapshot(value)
        return copy.deepcopy(value, memo)


original_transact_write_items = models.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    _transaction.snapshot_safe = all(next(iter(item)) in SNAPSHOT_SAFE for item in transact_items)
    try:
        return original_transact_write_items(self, transact_items)
    finally:
        _transaction.snapshot_safe = False


models.copy = CopyForTransactions()
models.DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
