/** Test support: DuckDB, the independent engine tests write fixtures with and check results against. */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export class Duck {
  private constructor(private readonly instance: DuckDBInstance, readonly con: DuckDBConnection) {}

  static async open(): Promise<Duck> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    return new Duck(instance, await instance.connect());
  }

  async run(sql: string): Promise<void> {
    await this.con.run(sql);
  }

  /** Rows as plain JS values (BIGINT -> bigint, lists -> arrays, DECIMAL -> number...). */
  async all(sql: string): Promise<Record<string, any>[]> {
    const r = await this.con.runAndReadAll(sql);
    return r.getRowObjectsJS() as Record<string, any>[];
  }

  async one(sql: string): Promise<Record<string, any>> {
    const rows = await this.all(sql);
    if (rows.length !== 1) throw new Error(`expected one row from ${sql}, got ${rows.length}`);
    return rows[0];
  }

  close(): void {
    this.con.closeSync();
    this.instance.closeSync();
  }
}

export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
