# Test cases for rules/python/sql-injection.yaml (semgrep --test annotations).
import sqlite3

import sqlalchemy
from django.db.models.expressions import RawSQL
from flask import Flask, request
from sqlalchemy import text

app = Flask(__name__)
db = sqlite3.connect(":memory:")
TABLE = "users"


@app.route("/user")
def user_by_name():
    name = request.args.get("name")
    cur = db.cursor()
    # ruleid: python-sql-injection
    cur.execute("SELECT * FROM users WHERE name = '%s'" % name)
    # ruleid: python-sql-injection
    cur.execute(f"SELECT * FROM users WHERE name = '{name}'")
    query = "SELECT * FROM users WHERE name = '" + name + "'"
    # ruleid: python-sql-injection
    cur.execute(query)
    # ok: python-sql-injection
    cur.execute("SELECT * FROM users WHERE name = ?", (name,))
    # ok: python-sql-injection
    cur.execute("SELECT * FROM users WHERE id = %d" % int(request.args["id"]))
    return "ok"


@app.route("/item/<item_id>")
def item(item_id):
    # ruleid: python-sql-injection
    return db.execute(text("SELECT * FROM items WHERE id = " + item_id))


def django_view(request):
    order = request.GET["order"]
    # ruleid: python-sql-injection
    User.objects.raw("SELECT * FROM auth_user ORDER BY " + order)
    # ruleid: python-sql-injection
    User.objects.annotate(x=RawSQL("SELECT %s" % request.POST["x"], ()))
    # ruleid: python-sql-injection
    User.objects.extra(where=["name = '%s'" % order])
    # ok: python-sql-injection
    User.objects.raw("SELECT * FROM auth_user WHERE name = %s", [order])


def find_user(cur, username):
    # ruleid: python-sql-string-built
    cur.execute("SELECT * FROM users WHERE name = '%s'" % username)
    sql = f"DELETE FROM sessions WHERE user = '{username}'"
    # ruleid: python-sql-string-built
    cur.execute(sql)
    # ruleid: python-sql-string-built
    cur.execute("UPDATE users SET name = '{}' WHERE id = 1".format(username))
    # ok: python-sql-string-built
    cur.execute("SELECT * FROM users WHERE name = %s", (username,))


def find_many(session, ids):
    placeholders = ",".join("?" * len(ids))
    # ok: python-sql-string-built
    session.execute(f"SELECT * FROM users WHERE id IN ({placeholders})", ids)
    # ok: python-sql-string-built
    session.execute(f"SELECT * FROM {TABLE} WHERE id = ?", (ids[0],))


def run_sql(cur, statement):
    # A pass-through helper is not string building.
    # ok: python-sql-string-built
    cur.execute(statement)


def by_id(cur, user_id):
    # ok: python-sql-string-built
    cur.execute("SELECT * FROM users WHERE id = %d" % int(user_id))


def migrate(cur):
    # ruleid: python-destructive-sql
    cur.execute("DROP TABLE legacy_users")
    # ruleid: python-destructive-sql
    cur.execute("truncate audit_log")
    # ok: python-destructive-sql
    cur.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER)")
    # ok: python-destructive-sql
    cur.execute("SELECT * FROM dropped_items")


class Migration:
    operations = [
        # ruleid: python-destructive-sql
        migrations.RunSQL("DROP TABLE old_orders"),
    ]


def mark(conn, state, row_id):
    column = {"deleted": "deleted_at", "suspended": "suspended_at"}.get(state)
    # ok: python-sql-string-built
    conn.execute(f"UPDATE items SET {column} = ? WHERE id = ?", (1, row_id))
