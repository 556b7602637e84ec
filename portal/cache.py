"""Django's database cache with an atomic ``incr``: the store of the public pages' rate
limits in the embedded default (issue 15; production uses Redis, whose INCR is atomic).

The stock ``DatabaseCache.incr`` reads the value and writes it back in two statements, so
two requests at once both read 29 and both write 30: a limiter built on it lets through
more than its limit (django-ratelimit's own check says so). Here the read and the write
share one transaction that holds the row: ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
transactions are ``BEGIN IMMEDIATE`` in this project (portal/settings.py), which takes the
database's one write lock before the read."""

from __future__ import annotations

import base64
import pickle

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, models, router, transaction
from django.utils.timezone import now


class AtomicDatabaseCache(DatabaseCache):
    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote = connection.ops.quote_name
        table = quote(self._table)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('value')}, {quote('expires')} FROM {table} "  # noqa: S608 - quoted names
                f"WHERE {quote('cache_key')} = %s{lock}",
                [key],
            )
            row = cursor.fetchone()
            if row is not None:
                expires = row[1]
                expression = models.Expression(output_field=models.DateTimeField())
                for converter in connection.ops.get_db_converters(
                    expression
                ) + expression.get_db_converters(connection):
                    expires = converter(expires, expression, connection)
                if expires < now():
                    row = None
            if row is None:
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode()))  # noqa: S301 - our own table
            value += delta
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {quote('value')} = %s WHERE {quote('cache_key')} = %s",  # noqa: S608
                [encoded, key],
            )
        return value
