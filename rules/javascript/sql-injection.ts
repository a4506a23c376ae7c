// TypeScript test cases for rules/javascript/sql-injection.yaml.
import type { Knex } from "knex";

export async function byEmail(knex: Knex, email: string): Promise<unknown> {
  // ruleid: js-sql-string-built
  return knex.raw("SELECT * FROM users WHERE email = '" + email + "'");
}

export async function byEmailSafe(knex: Knex, email: string): Promise<unknown> {
  // ok: js-sql-string-built
  return knex.raw("SELECT * FROM users WHERE email = ?", [email]);
}

export class UserRepository {
  constructor(private readonly knex: Knex) {}

  public async byName(name: string): Promise<unknown> {
    // ruleid: js-sql-string-built
    return this.knex.raw(`SELECT * FROM users WHERE name = '${name}'`);
  }
}
